// The per-step cost of data-parallel training's gradient exchange (genrekit::dist::sum: an
// allgather, then the same rank-ordered sum on every rank), for bench/mpi_scaling.md.
//   mpirun -np 2 build/bin/mpi_exchange [floats=99000] [iterations=200]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "genrekit/distributed.hpp"

int main(int argc, char** argv) {
    genrekit::dist::Session mpi(&argc, &argv);
    const std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 99000;
    const int iters = argc > 2 ? std::atoi(argv[2]) : 200;
    std::vector<float> g(n, 1.0f);
    for (int i = 0; i < 10; ++i) genrekit::dist::sum(g.data(), n);  // warm-up
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) genrekit::dist::sum(g.data(), n);
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / iters;
    if (genrekit::dist::rank() == 0)
        std::printf("P=%d floats=%zu (%.0f KB): %.1f us per exchange\n", genrekit::dist::size(), n, static_cast<double>(n) * 4 / 1000, us);
    return 0;
}
