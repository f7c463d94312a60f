// A small persistent thread pool for the CNN layers: a batch is split into contiguous
// ranges of samples (or channels), one per worker, and the call returns when all are done.
//
//   genrekit::nn::set_num_threads(2);                       // process-wide; 1 = no threads
//   genrekit::nn::parallel_for(N, [&](std::int64_t begin, std::int64_t end, int worker) {
//       for (auto n = begin; n < end; ++n) ...;               // worker in [0, num_threads())
//   });
//
// The split is a pure function of (n, num_threads()), so results that are reduced per
// worker in worker order are deterministic for a given thread count. Nested calls run
// inline on the calling worker. Exceptions thrown by the body are re-thrown by parallel_for.
#pragma once

#include <cstdint>
#include <functional>

namespace genrekit::nn {

void set_num_threads(int n);  // clamped to [1, 64]
int num_threads();

void parallel_for(std::int64_t n, const std::function<void(std::int64_t begin, std::int64_t end, int worker)>& body);

}  // namespace genrekit::nn
