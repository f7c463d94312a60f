// Data-parallel training across processes: `mpirun -np P genrekit train ...` (README "Training on
// several machines"). Every call is a no-op for one process and in a build without MPI
// (GENREKIT_MPI=OFF), so the library calls them unconditionally.
//
//   genrekit::dist::Session mpi(&argc, &argv);   // main(): MPI starts only under a launcher
//   std::vector<double> v = {loss_sum, correct};
//   genrekit::dist::sum(v.data(), v.size());     // the same bits on every rank
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "genrekit/error.hpp"

namespace genrekit::dist {

bool built_with_mpi();
// What the launcher's environment says (OMPI_COMM_WORLD_*, PMI_*, PMIX_RANK): 1 and 0 when the
// process was not started by mpirun/srun (with PMIx alone, rank r says only "at least r + 1").
// Readable before MPI starts.
int launcher_size();
int launcher_rank();

// Starts MPI when the process was started by a launcher (MPI build only); finalizes at the end.
class Session {
public:
    Session(int* argc, char*** argv);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
};

int rank();  // 0 without MPI
int size();  // 1 without MPI

// Element-wise sum over the ranks, left on every rank. The sum runs in rank order
// (((r0 + r1) + r2) + ...) on every rank, so it is the same on all of them and does not depend
// on MPI's reduction algorithm; with one rank the values are unchanged.
void sum(float* v, std::size_t n);
void sum(double* v, std::size_t n);

// Whether every rank passed the same value (true with one process).
bool same_on_all(std::uint64_t value);

// An error every rank raises at the same point, from values they agreed on (e.g. a diverging
// loss after the gradient exchange): the ranks end together, rank 0 says why, no abort needed.
class AgreedError : public Error {
public:
    using Error::Error;
};

// Ends the whole job after an error on this rank alone: prints `line` and aborts every rank
// with `code` (peers blocked in a collective are killed by the launcher within seconds).
[[noreturn]] void abort_all(const std::string& line, int code);

}  // namespace genrekit::dist
