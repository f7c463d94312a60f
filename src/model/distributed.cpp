#include "genrekit/distributed.hpp"

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>
#include <vector>

#ifdef GENREKIT_WITH_MPI
#include <mpi.h>
#endif

namespace genrekit::dist {

namespace {

int env_int(const char* name, int fallback) {
    const char* v = std::getenv(name);
    if (!v || !*v) return fallback;
    char* end = nullptr;
    const long x = std::strtol(v, &end, 10);
    return end && *end == '\0' && x >= 0 && x < (1 << 30) ? static_cast<int>(x) : fallback;
}

int g_rank = 0, g_size = 1;
#ifdef GENREKIT_WITH_MPI
bool g_started = false;

template <typename T>
void sum_in_rank_order(T* v, std::size_t n, MPI_Datatype type) {
    if (g_size == 1 || n == 0) return;
    // Allgather, then the same left-to-right sum on every rank (MPI_Allreduce may associate
    // differently on different ranks, process counts and message sizes).
    std::vector<T> all(n * static_cast<std::size_t>(g_size));
    MPI_Allgather(v, static_cast<int>(n), type, all.data(), static_cast<int>(n), type, MPI_COMM_WORLD);
    for (std::size_t i = 0; i < n; ++i) {
        T s = all[i];
        for (std::size_t r = 1; r < static_cast<std::size_t>(g_size); ++r) s += all[r * n + i];
        v[i] = s;
    }
}
#endif

}  // namespace

int launcher_size() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
        if (const int s = env_int(name, 0); s > 0) return s;
    return env_int("PMIX_RANK", 0) + 1;  // PMIx alone names no size: a rank >= 1 means several
}

int launcher_rank() {
    for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"})
        if (const int r = env_int(name, -1); r >= 0) return r;
    return 0;
}

int rank() { return g_rank; }
int size() { return g_size; }

#ifdef GENREKIT_WITH_MPI

bool built_with_mpi() { return true; }

Session::Session(int* argc, char*** argv) {
    if (std::getenv("OMPI_COMM_WORLD_SIZE") == nullptr && std::getenv("PMI_SIZE") == nullptr && std::getenv("PMIX_RANK") == nullptr) return;
    int provided = 0;  // the training threads never call MPI: only the main thread does
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    g_started = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
}

Session::~Session() {
    if (g_started) MPI_Finalize();
}

void sum(float* v, std::size_t n) { sum_in_rank_order(v, n, MPI_FLOAT); }
void sum(double* v, std::size_t n) { sum_in_rank_order(v, n, MPI_DOUBLE); }

bool same_on_all(std::uint64_t value) {
    if (g_size == 1) return true;
    std::vector<std::uint64_t> all(static_cast<std::size_t>(g_size));
    MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD);
    for (auto v : all)
        if (v != all[0]) return false;
    return true;
}

void abort_all(const std::string& line, int code) {
    // A rank other than 0 waits a moment: if rank 0 failed too (the same error everywhere), its
    // abort ends this rank first and the user reads one message, not P.
    if (g_rank != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    std::cerr << line << "\n" << std::flush;
    // Exiting without MPI_Finalize makes mpirun end the other ranks (MPI_Abort would do the same,
    // but Open MPI 4 then adds a garbled help message to the one line above).
    std::_Exit(code);
}

#else

bool built_with_mpi() { return false; }
Session::Session(int*, char***) {}
Session::~Session() = default;
void sum(float*, std::size_t) {}
void sum(double*, std::size_t) {}
bool same_on_all(std::uint64_t) { return true; }

void abort_all(const std::string& line, int code) {
    std::cerr << line << "\n" << std::flush;
    std::_Exit(code);
}

#endif

}  // namespace genrekit::dist
