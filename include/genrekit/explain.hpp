// Grad-CAM for spectrogram (CNN) models: where in the log-mel (or MFCC) image the network
// found the evidence for a genre.
//
//   genrekit::Model model = genrekit::Model::load("cnn.safetensors");
//   genrekit::GradCam cam = genrekit::grad_cam(model, "song.wav");          // the predicted genre
//   genrekit::GradCam jazz = genrekit::grad_cam(model, "song.wav", model.label_index("jazz"));
//   // cam.maps: one bands x frames map per segment; cam.stitched_map: over the whole file
//
// ref: Selvaraju et al. 2017, "Grad-CAM". For the last convolution block's output A (after its
// BatchNorm and ReLU, C channels of H x W), with y_c the class score (the logit, before
// softmax): w_k = mean over H x W of dy_c/dA_k, map = ReLU(sum_k w_k A_k), stretched
// bilinearly to the input's bands x frames. An ensemble's maps are averaged over its members.
// Maps are not normalised; a picture scales them by their maximum over the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "genrekit/model.hpp"

namespace genrekit {

struct GradCam {
    std::string path;
    int target = -1;          // label explained (index into Model::labels())
    bool predicted = true;    // target is the file's predicted label (false: asked for)
    std::string layer;        // where A comes from, e.g. "layers.6 (relu after conv2d layers.4)"
    TrackPrediction prediction;
    int bands = 0, frames = 0;              // per segment: the model's input image
    double seconds_per_frame = 0, duration = 0;
    std::vector<double> starts;             // per segment, seconds
    std::vector<std::uint8_t> silent;       // silent segments are not explained (map all 0)
    std::vector<double> target_probability; // per segment, the probability of `target`
    std::vector<float> inputs, maps;        // S x bands x frames, band-major; inputs unstandardized
    // Over the whole file (overlapping segments averaged): bands x total_frames, band-major.
    int total_frames = 0;
    std::vector<float> stitched_input, stitched_map;
    std::size_t segment_size() const { return static_cast<std::size_t>(bands) * static_cast<std::size_t>(frames); }
};

// Throws Error "<model path>: ..." for a model that is not a spectrogram model or has no
// conv2d layer, "<path>: ..." for unreadable, short or silent audio. label -1: the predicted one.
GradCam grad_cam(Model& model, const std::string& path, int label = -1);

}  // namespace genrekit
