#include "genrekit/nn/loss.hpp"

#include <cmath>

#include "genrekit/error.hpp"

namespace genrekit::nn {

template <typename T>
void softmax(CMatView<T> logits, MatView<T> probs) {
    for (Eigen::Index n = 0; n < logits.cols(); ++n) {
        const T m = logits.col(n).maxCoeff();
        probs.col(n).array() = (logits.col(n).array() - m).exp();
        probs.col(n) /= probs.col(n).sum();
    }
}

template <typename T>
T softmax_cross_entropy_forward(CMatView<T> logits, const std::int32_t* labels, MatView<T> probs, T smoothing) {
    const Eigen::Index K = logits.rows(), N = logits.cols();
    double total = 0;  // accumulate in double: the mean over a batch should not depend on float rounding order
    for (Eigen::Index n = 0; n < N; ++n) {
        const std::int32_t y = labels[n];
        if (y < 0 || y >= K) throw Error("cross-entropy: label index " + std::to_string(y) + " out of range [0, " + std::to_string(K) + ")");
        const T m = logits.col(n).maxCoeff();
        probs.col(n).array() = (logits.col(n).array() - m).exp();
        const T s = probs.col(n).sum();
        probs.col(n) /= s;
        // -log softmax_y = log(sum exp(z - m)) - (z_y - m)
        const double lse = static_cast<double>(std::log(s)) + static_cast<double>(m);  // log sum exp z
        total += (1.0 - static_cast<double>(smoothing)) * static_cast<double>(std::log(s) - (logits(y, n) - m));
        if (smoothing != T(0))  // (e / K) sum_k (lse - z_k)
            total += static_cast<double>(smoothing) * (lse - static_cast<double>(logits.col(n).sum()) / static_cast<double>(K));
    }
    return static_cast<T>(total / static_cast<double>(N));
}

template <typename T>
void softmax_cross_entropy_backward(CMatView<T> probs, const std::int32_t* labels, MatView<T> dlogits, T smoothing) {
    const Eigen::Index N = probs.cols();
    const T inv_n = T(1) / static_cast<T>(N);
    if (smoothing == T(0)) {
        dlogits = probs * inv_n;
        for (Eigen::Index n = 0; n < N; ++n) dlogits(labels[n], n) -= inv_n;
        return;
    }
    dlogits = (probs.array() - smoothing / static_cast<T>(probs.rows())).matrix() * inv_n;
    for (Eigen::Index n = 0; n < N; ++n) dlogits(labels[n], n) -= (T(1) - smoothing) * inv_n;
}

template void softmax<float>(CMatView<float>, MatView<float>);
template void softmax<double>(CMatView<double>, MatView<double>);
template float softmax_cross_entropy_forward<float>(CMatView<float>, const std::int32_t*, MatView<float>, float);
template double softmax_cross_entropy_forward<double>(CMatView<double>, const std::int32_t*, MatView<double>, double);
template void softmax_cross_entropy_backward<float>(CMatView<float>, const std::int32_t*, MatView<float>, float);
template void softmax_cross_entropy_backward<double>(CMatView<double>, const std::int32_t*, MatView<double>, double);

}  // namespace genrekit::nn
