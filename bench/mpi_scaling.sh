#!/usr/bin/env bash
# The scaling model of bench/mpi_scaling.md: steps per second of data-parallel training against
# the number of ranks P, from the compute per step on one rank, the gradient size and a network's
# latency and bandwidth.
#   bench/mpi_scaling.sh [t1_seconds_per_step=0.23] [gradient_bytes=396000] [per_rank_batch=0]
# t1: one global batch of 32 on one rank, one thread (measured: bench/mpi_scaling.md).
# per_rank_batch=0: a fixed global batch split over the ranks (compute per step t1 / P);
# per_rank_batch>0: every rank keeps that batch (global batch grows with P, compute stays t1).
set -euo pipefail
t1=${1:-0.23}
S=${2:-396000}
keep=${3:-0}
awk -v t1="$t1" -v S="$S" -v keep="$keep" 'BEGIN {
  # name, latency (s), bandwidth (bytes/s)
  n = split("shared-memory 1GbE 10GbE", net, " ")
  alpha["shared-memory"] = 1e-6;  beta["shared-memory"] = 2e9
  alpha["1GbE"] = 50e-6;          beta["1GbE"] = 117e6
  alpha["10GbE"] = 20e-6;         beta["10GbE"] = 1.17e9
  to = 0.002  # per step, not divided by P: the optimizer step on 99k parameters, batch setup
  printf "%-14s %4s %10s %10s %10s %10s %8s\n", "network", "P", "compute", "allgather", "steps/s", "speedup", "comm %"
  for (k = 1; k <= n; k++) {
    name = net[k]
    for (P = 1; P <= (keep > 0 ? 64 : 32); P *= 2) {  # a global batch of 32 has at most 32 slices
      tc = (keep > 0 ? t1 : t1 / P) + to
      # genrekit today: every rank receives the other P-1 gradients (ring allgather), then sums
      # them in rank order.
      tg = (P - 1) * (alpha[name] + S / beta[name])
      s1 = 1 / (t1 + to)
      s = 1 / (tc + tg)
      printf "%-14s %4d %8.1fms %8.1fms %10.2f %10.2f %7.0f%%\n", name, P, tc * 1e3, tg * 1e3, s, (keep > 0 ? P : 1) * s / s1, 100 * tg / (tc + tg)
    }
  }
}'
