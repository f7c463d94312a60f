// Model files written before the one-model restructuring (tests/data/model_v1, see its README)
// load and predict what that genrekit printed for them, and save again in the one format with
// the same tensors.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <unistd.h>

#include "genrekit/model.hpp"
#include "genrekit/safetensors.hpp"
#include "genrekit/synth.hpp"
#include "nn_test_data.hpp"
#include "support.hpp"

using namespace genrekit;
namespace fs = std::filesystem;

namespace {

std::string data_file(const std::string& name) { return gktest::source_dir() + "/tests/data/model_v1/" + name; }

std::string tmp_path(const std::string& name) {
    const auto d = fs::temp_directory_path() / ("genrekit_model_files_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return (d / name).string();
}

// Worst absolute difference, printed, against a tolerance.
void expect_close(const std::vector<double>& got, const std::vector<double>& want, double tol, const std::string& what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    double worst = 0;
    for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
    std::cout << "[model_v1] " << what << ": worst |difference| " << worst << " (tolerance " << tol << ")\n";
    EXPECT_LE(worst, tol) << what;
}

// Saving a loaded model writes the one format with the very same tensors.
void expect_resave_keeps_tensors(const Model& m, const std::string& original) {
    const std::string again = tmp_path("again.safetensors");
    m.save(again);
    const SafeTensors a = load_safetensors(original), b = load_safetensors(again);
    EXPECT_EQ(b.metadata.at("format"), "genrekit.model.v2");
    ASSERT_EQ(a.tensors.size(), b.tensors.size());
    for (const auto& t : a.tensors) {
        const SafeTensor* u = b.find(t.name);
        ASSERT_NE(u, nullptr) << t.name;
        EXPECT_EQ(u->shape, t.shape) << t.name;
        EXPECT_EQ(u->data, t.data) << t.name;
    }
    const Model r = Model::load(again);
    EXPECT_EQ(r.members(), m.members());
    EXPECT_EQ(r.front_end(), m.front_end());
}

}  // namespace

TEST(ModelFiles, FeatureModelV1LoadsAndPredictsAsBefore) {
    const std::string path = data_file("mlp_v1.safetensors");
    ASSERT_EQ(load_safetensors(path).metadata.at("format"), "genrekit.mlp.v1");
    const Model m = Model::load(path);
    EXPECT_FALSE(m.is_spectrogram());
    EXPECT_EQ(m.members(), 1);
    EXPECT_EQ(m.labels(), (std::vector<std::string>{"class0", "class1", "class2"}));
    EXPECT_EQ(m.feature_columns(), (std::vector<std::string>{"f0", "f1", "f2", "f3"}));
    EXPECT_EQ(m.front_end()["mode"], "30s");
    // `genrekit eval --json` of the writing genrekit on gktest::blobs_csv(), rows 0-2.
    const auto t = parse_feature_csv(gktest::blobs_csv(), "blobs.csv");
    const RowMatrixXd p = m.predict_proba(t.features.topRows(3));
    std::vector<double> got(p.data(), p.data() + p.size());
    const std::vector<double> want = {0.9936856627464294,  0.0060050999745726585, 0.00030918416450731456, 0.8086034059524536, 0.02831087075173855,
                                      0.1630857288837433,  0.9390411972999573,    0.05620227009057999,    0.0047565605491399765};
    expect_close(got, want, 1e-6, "feature model probabilities");
    expect_resave_keeps_tensors(m, path);
}

TEST(ModelFiles, SpectrogramEnsembleV1LoadsAndPredictsAsBefore) {
    const std::string path = data_file("cnn_ensemble_v1.safetensors");
    ASSERT_EQ(load_safetensors(path).metadata.at("format"), "genrekit.cnn.v1");
    const Model m = Model::load(path);
    EXPECT_TRUE(m.is_spectrogram());
    EXPECT_EQ(m.members(), 4);
    EXPECT_EQ(m.labels(), (std::vector<std::string>{"ambient", "electronic", "folk", "rock"}));
    // The clips of `genrekit synth --clips 3 --seconds 2` and what `genrekit predict --json` printed.
    SynthParams sp;
    sp.clips_per_class = 3;
    sp.seconds = 2.0;
    const std::string audio = tmp_path("audio");
    write_synth_dataset(audio, sp);
    const TrackPrediction rock = m.predict_file(audio + "/rock/rock.00000.wav"), ambient = m.predict_file(audio + "/ambient/ambient.00001.wav");
    expect_close(rock.proba, {0.10856574028730392, 0.1549578160047531, 0.13891960680484772, 0.5975568095842997}, 1e-5, "ensemble, rock.00000");
    expect_close(ambient.proba, {0.3636760214964549, 0.26915547251701355, 0.21942860384782156, 0.14773989468812943}, 1e-5, "ensemble, ambient.00001");
    EXPECT_EQ(rock.vote_label, 3);
    EXPECT_EQ(ambient.vote_label, 0);
    expect_resave_keeps_tensors(m, path);
    fs::remove_all(fs::path(audio).parent_path());
}
