// The median filters of HPSS (scipy.ndimage.median_filter, mode='reflect', along time or along
// frequency), vectorised across 8 or 16 lanes (rows or frames) at once. Only comparisons and
// copies are involved, so every variant gives the exact order statistic: the same bits at any
// width. Spectrograms are column-major: nb bins (rows) by nt frames (columns).
#pragma once

#include <cstddef>
#include <vector>

namespace genrekit::simd::hpss {

constexpr int kMaxLanes = 16;   // the widest variant's lanes: callers size buffers and pad for it
constexpr int kMaxWidth = 255;  // the widest median
constexpr int kBlock = 16;      // width 2 kBlock - 1 = 31 (the HPSS default) runs the sorted-block kernel
constexpr int kStrip = 4;       // lane groups gathered together along time

// ref: scipy ndimage NI_ExtendLine, NI_EXTEND_REFLECT (abcddcba|abcd|dcbaabcd): idx[i] is the
// sample of a line of length n that index i of the line extended by `half` on both sides holds.
void reflect_indices(int n, int half, std::vector<int>& idx);

// The sorted-block kernel's extended line for a line of n samples: ext_count(n) indices, ext[i]
// = idx[i - 1] (reflect_indices), clamped into idx.
int ext_count(int n);
void ext_indices(const std::vector<int>& idx, int n, std::vector<int>& ext);

// O = the median of odd width w <= kMaxWidth along time (each row) of S; nb >= kMaxLanes (pad
// smaller spectrograms). idx: reflect_indices(nt, w/2); ext: ext_indices of it; buf:
// (ext_count(nt) + nt) kStrip kMaxLanes floats.
void median_time(const float* S, float* O, int nb, int nt, int w, const int* idx, const int* ext, float* buf);

// O = the median of odd width w <= kMaxWidth along frequency (each column) of S. idx:
// reflect_indices(nb, w/2); ext: ext_indices of it; in_buf: max(nb, ext_count(nb)) kMaxLanes
// floats; out_buf: nb kMaxLanes floats.
void median_freq(const float* S, float* O, int nb, int nt, int w, const int* idx, const int* ext, float* in_buf,
                 float* out_buf);

// The width-31 time median left in strips: strip i covers bins i*W .. (W = kStrip * lanes; the
// last strip's groups overlap the previous ones), at out + i*nt*W, frame t's W medians at + t*W.
// Returns the lanes of the variant that ran (softmask_p2_strips reads the layout with them).
// nb >= kMaxLanes; out: strips_size(nb, nt) floats; buf: ext_count(nt) kStrip kMaxLanes floats.
int median_time_strips(const float* S, float* out, int nb, int nt, const int* ext, float* buf);
std::size_t strips_size(int nb, int nt);

}  // namespace genrekit::simd::hpss
