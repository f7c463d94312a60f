// Helpers the recording pictures share (prediction timeline, Grad-CAM).
#pragma once

#include <array>

#include "genrekit/plot.hpp"

namespace genrekit::plot {

// At most max_cols columns, each the mean of the columns it covers (long recordings).
Raster shrink_columns(const Raster& r, int max_cols);
// Smallest and largest finite value ({0, 1} when there is none).
std::array<double, 2> finite_range(const Raster& r);
// Ticks of a 0..duration seconds axis under a plot spanning [x0, x0 + w] (m:ss from 2 minutes).
void time_axis(Svg& svg, double x0, double y, double w, double duration);

}  // namespace genrekit::plot
