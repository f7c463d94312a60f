// Fused softmax + cross-entropy, numerically stable (log-sum-exp with the max subtracted).
//
//   T loss = softmax_cross_entropy_forward<float>(logits, labels, probs);  // mean over N
//   softmax_cross_entropy_backward<float>(probs, labels, dlogits);         // dlogits = (probs - onehot) / N
//
// logits, probs, dlogits: (K x N), one column per sample; labels: N class indices in [0, K).
// ref: torch.nn.CrossEntropyLoss(reduction='mean') on raw logits; with `smoothing` = e the target
// is (1 - e) onehot + e / K, as torch.nn.CrossEntropyLoss(label_smoothing=e):
//   loss = (1 - e) (-log p_y) + (e / K) sum_k (-log p_k),   dlogits = (p - target) / N
#pragma once

#include <cstdint>

#include "genrekit/nn/layers.hpp"

namespace genrekit::nn {

// Writes softmax(logits) into probs and returns the mean cross-entropy.
template <typename T>
T softmax_cross_entropy_forward(CMatView<T> logits, const std::int32_t* labels, MatView<T> probs, T smoothing = T(0));

// dlogits is WRITTEN (it is the first activation gradient of a backward pass).
template <typename T>
void softmax_cross_entropy_backward(CMatView<T> probs, const std::int32_t* labels, MatView<T> dlogits, T smoothing = T(0));

// Softmax only (inference), column by column.
template <typename T>
void softmax(CMatView<T> logits, MatView<T> probs);

}  // namespace genrekit::nn
