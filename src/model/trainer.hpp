// The one training loop of every model kind (private to src/model). What differs between a
// feature model and a spectrogram model is only the examples it is given (TrainingSet) and how
// the finished model is scored (data_source.hpp).
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "genrekit/nn/network.hpp"
#include "genrekit/nn/optim.hpp"
#include "genrekit/nn/rng.hpp"
#include "genrekit/train.hpp"
#include "genrekit/train_config.hpp"

namespace genrekit::detail {

// Network input columns (normalised rows or standardized segments, F x N) and their classes.
struct Examples {
    nn::Mat<float> x;
    std::vector<std::int32_t> y;
    std::size_t size() const { return y.size(); }
};

struct TrainingSet {
    Examples train, valid;
    std::int64_t eval_chunk = 256;        // columns per inference pass on the validation set
    bool drop_single_last_batch = false;  // BatchNorm needs 2 samples: drop a last batch of one
    // In-place augmentation of a batch of n columns (empty: none).
    std::function<void(nn::Rng& rng, float* x, std::int64_t n)> augment;
};

struct TrainedNetworks {
    std::vector<std::vector<float>> params;  // every kept network, seed by seed
    nlohmann::json kept_epochs = nlohmann::json::array();  // per seed, the epoch of each kept network
    std::vector<EpochLog> history;           // of the first seed's run
    int best_epoch = 0;                      // of the first seed's run: its first kept network
};

// Under mpirun `set` holds this rank's share of the examples: each global batch of
// cfg.batch_size is split over the ranks in proportion to their shares, the gradients are summed
// in rank order (distributed.hpp) and every rank takes the same optimizer step.
// Trains cfg.ensemble.members networks of `layers` on `set` (seeds cfg.seed, cfg.seed + 1, ...),
// keeping cfg.ensemble.checkpoints snapshots of each run (see train_config.hpp).
TrainedNetworks train_networks(const TrainConfig& cfg, const nlohmann::json& layers, const nn::Shape& input, const TrainingSet& set,
                               const std::function<void(const EpochLog&)>& on_epoch, const std::function<void(const std::string&)>& on_message);

// Inference-mode mean loss and accuracy (NaN: no examples).
struct LossAcc {
    double loss = NAN, acc = NAN;
};

}  // namespace genrekit::detail
