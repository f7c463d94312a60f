// The process-wide pool of the CNN layers: a batch is split into contiguous ranges of samples
// (or channels), one per worker, and the call returns when all are done. It runs on a
// ThreadPool (simd/thread_pool.hpp), shared_pool(), which a Network should also be given
// (net.set_pool(shared_pool())) so that its element-wise layers use the same threads.
//
//   genrekit::nn::set_num_threads(2);                       // process-wide; 1 = no threads
//   genrekit::nn::parallel_for(N, [&](std::int64_t begin, std::int64_t end, int worker) {
//       for (auto n = begin; n < end; ++n) ...;               // worker in [0, num_threads())
//   });
//
// The split is a pure function of (n, num_threads()), so results that are reduced per
// worker in worker order are deterministic for a given thread count. Nested calls run
// inline on the calling worker. Exceptions thrown by the body are re-thrown by parallel_for
// (the first worker's first). set_num_threads replaces the pool: call it before handing
// shared_pool() to a network, not while one holds it.
#pragma once

#include <cstdint>
#include <functional>

#include "simd/thread_pool.hpp"

namespace genrekit::nn {

void set_num_threads(int n);  // clamped to [1, 64]
int num_threads();
ThreadPool* shared_pool();  // the pool parallel_for runs on (num_threads() threads)

void parallel_for(std::int64_t n, const std::function<void(std::int64_t begin, std::int64_t end, int worker)>& body);

}  // namespace genrekit::nn
