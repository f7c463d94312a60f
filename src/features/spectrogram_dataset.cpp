#include "genrekit/spectrogram_dataset.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "genrekit/atomic_file.hpp"
#include "genrekit/audio.hpp"
#include "genrekit/error.hpp"
#include "genrekit/featurize.hpp"
#include "genrekit/mel.hpp"
#include "genrekit/sha256.hpp"
#include "genrekit/stft.hpp"
#include "genrekit/json_text.hpp"

namespace genrekit {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {
// Part of every cache key: bump it whenever the computed values change, so entries written by an
// older genrekit are never served (v2: the STFT's batched FFT rounds differently from KissFFT).
constexpr const char* kCacheFormat = "genrekit.spectrogram-cache.v2";
constexpr char kMagic[8] = {'G', 'K', 'S', 'P', 'E', 'C', '0', '1'};
}  // namespace

void SpectrogramParams::validate() const {
    if (features != "logmel" && features != "mfcc")
        throw Error("front_end.features = '" + features + "' is not one of: logmel, mfcc");
    require_param(sample_rate >= 1000 && sample_rate <= 384000, "front_end.sample_rate", sample_rate, "[1000, 384000]");
    require_param(n_fft >= 16 && n_fft <= 65536, "front_end.n_fft", n_fft, "[16, 65536]");
    require_param(hop >= 1 && hop <= n_fft * 4, "front_end.hop", hop, "[1, 4 * n_fft]");
    require_param(n_mels >= 1 && n_mels <= 1024, "front_end.n_mels", n_mels, "[1, 1024]");
    require_param(fmin >= 0 && fmin < sample_rate / 2.0, "front_end.fmin", fmin, "[0, sample_rate / 2)");
    require_param(fmax <= sample_rate / 2.0 && (fmax <= 0 || fmax > fmin), "front_end.fmax", fmax, "(fmin, sample_rate / 2] or 0");
    if (features == "mfcc") require_param(n_mfcc >= 1 && n_mfcc <= n_mels, "front_end.n_mfcc", n_mfcc, "[1, n_mels]");
    require_param(segment > 0 && segment <= 600, "front_end.segment", segment, "(0, 600] seconds");
    require_param(segment_hop > 0 && segment_hop <= 600, "front_end.segment_hop", segment_hop, "(0, 600] seconds");
    require_param(silence_db < 0, "front_end.silence_db", silence_db, "< 0 dBFS");
    if (segment_samples() < static_cast<std::size_t>(n_fft / 2 + 1))
        throw Error("front_end.segment = " + std::to_string(segment) + " s is shorter than half an FFT frame");
}

std::size_t SpectrogramParams::segment_samples() const { return static_cast<std::size_t>(std::lround(segment * sample_rate)); }

// ref: librosa 0.7.2 stft(center=True): 1 + len(y) // hop frames.
int SpectrogramParams::frames() const { return static_cast<int>(1 + segment_samples() / static_cast<std::size_t>(hop)); }

json SpectrogramParams::to_json() const {
    return {{"features", features}, {"sample_rate", sample_rate}, {"n_fft", n_fft},   {"hop", hop},
            {"n_mels", n_mels},     {"fmin", fmin},               {"fmax", fmax},     {"n_mfcc", n_mfcc},
            {"segment", segment},   {"segment_hop", segment_hop}, {"silence_db", silence_db}};
}

SpectrogramParams SpectrogramParams::from_json(const json& j, const std::string& where) {
    SpectrogramParams p;
    if (j.is_null()) return p;
    if (!j.is_object()) throw Error(where + ": must be an object");
    const json def = p.to_json();
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (it.key() == "kind") continue;
        if (!def.contains(it.key())) {
            std::string known;
            for (auto d = def.begin(); d != def.end(); ++d) known += (known.empty() ? "" : ", ") + d.key();
            throw Error(where + ": unknown key '" + it.key() + "' (known: kind, " + known + ")");
        }
        const json& d = def[it.key()];
        const json& v = *it;
        const bool ok = d.is_string() ? v.is_string() : d.is_number_integer() ? v.is_number_integer() : v.is_number();
        if (!ok) throw Error(where + "." + it.key() + ": must be " + (d.is_string() ? "a string" : d.is_number_integer() ? "an integer" : "a number") + ", got " + dump_json(v));
        // Before narrowing to int (validate() then checks the real range).
        if (d.is_number_integer() && (v.is_number_unsigned() ? v.get<std::uint64_t>() > 1u << 30 : std::abs(v.get<std::int64_t>()) > 1 << 30))
            throw Error(where + "." + it.key() + " = " + dump_json(v) + " is out of range");
    }
    p.features = j.value("features", p.features);
    p.sample_rate = j.value("sample_rate", p.sample_rate);
    p.n_fft = j.value("n_fft", p.n_fft);
    p.hop = j.value("hop", p.hop);
    p.n_mels = j.value("n_mels", p.n_mels);
    p.fmin = j.value("fmin", p.fmin);
    p.fmax = j.value("fmax", p.fmax);
    p.n_mfcc = j.value("n_mfcc", p.n_mfcc);
    p.segment = j.value("segment", p.segment);
    p.segment_hop = j.value("segment_hop", p.segment_hop);
    p.silence_db = j.value("silence_db", p.silence_db);
    p.validate();
    return p;
}

namespace {

// One segment's spectrogram, appended to a TrackSpectrograms: owns the STFT plan, filterbank, DCT.
class SegmentSpectrogram {
public:
    explicit SegmentSpectrogram(const SpectrogramParams& p)
        : p_(p), stft_({.n_fft = p.n_fft, .hop = p.hop}), mel_(mel_params(p)),
          silence_(static_cast<float>(std::pow(10.0, p.silence_db / 20.0))) {
        if (p.features == "mfcc") dct_ = std::make_unique<Dct>(p.n_mfcc, p.n_mels);
    }
    void append(TrackSpectrograms& t, std::span<const float> clip, double start) {
        float peak = 0;
        for (float v : clip) peak = std::max(peak, std::abs(v));
        // ref: librosa 0.7.2 feature.melspectrogram(power=2) -> power_to_db(top_db=80); mfcc: dct(type 2, ortho)[:n_mfcc]
        Spectrogram D = power_to_db(mel_.apply(power(stft_.forward(clip))));
        if (dct_) D = dct_->apply(D);
        if (D.rows() != t.bands || D.cols() != t.frames)
            throw std::logic_error("spectrogram of a segment has shape " + std::to_string(D.rows()) + "x" + std::to_string(D.cols()));
        // Band-major (row-major bands x frames): the {1, bands, frames} sample layout of the CNN.
        const std::size_t per = static_cast<std::size_t>(t.bands * t.frames);
        t.values.resize(t.values.size() + per);
        float* out = t.values.data() + t.values.size() - per;
        for (int b = 0; b < t.bands; ++b)
            for (int f = 0; f < t.frames; ++f) out[static_cast<std::size_t>(b * t.frames + f)] = D(b, f);
        t.starts.push_back(start);
        t.silent.push_back(peak < silence_ ? 1 : 0);
    }

private:
    static MelParams mel_params(const SpectrogramParams& p) {
        MelParams mp;
        mp.sample_rate = p.sample_rate;
        mp.n_fft = p.n_fft;
        mp.n_mels = p.n_mels;
        mp.fmin = p.fmin;
        mp.fmax = p.fmax;
        return mp;
    }
    SpectrogramParams p_;
    Stft stft_;
    MelFilterbank mel_;
    std::unique_ptr<Dct> dct_;
    float silence_;
};

}  // namespace

AudioStats stream_spectrograms(const std::string& path, const RawFormat& raw, const SpectrogramParams& p, std::size_t chunk,
                               const std::function<void(TrackSpectrograms&)>& on_chunk) {
    p.validate();
    LoadParams lp;
    lp.sample_rate = p.sample_rate;
    lp.raw = raw;
    AudioReader reader(path, lp);
    SegmentSpec spec;
    spec.mode = SegmentMode::Sliding;
    spec.seconds = p.segment;
    spec.hop = p.segment_hop;
    SegmentSpectrogram maker(p);
    auto fresh = [&] {
        TrackSpectrograms t;
        t.path = path;
        t.bands = p.bands();
        t.frames = p.frames();
        return t;
    };
    TrackSpectrograms t = fresh();
    std::size_t segments = 0;
    AudioStats st = for_each_segment(reader, spec, [&](const Segment& seg, std::span<const float> clip) {
        maker.append(t, clip, static_cast<double>(seg.start) / reader.sample_rate());
        ++segments;
        if (t.size() >= std::max<std::size_t>(chunk, 1)) {
            on_chunk(t);
            t = fresh();
        }
    });
    if (segments == 0) {
        std::ostringstream s;
        s << path << ": audio is " << st.seconds() << " s long, shorter than one " << p.segment << " s segment (front_end.segment)";
        throw Error(s.str());
    }
    if (t.size() > 0) on_chunk(t);
    return st;
}

TrackSpectrograms compute_spectrograms(const std::string& path, const SpectrogramParams& p) {
    TrackSpectrograms all;
    const AudioStats st = stream_spectrograms(path, {}, p, 64, [&](TrackSpectrograms& t) {
        if (all.size() == 0) {
            all = std::move(t);
            return;
        }
        all.values.insert(all.values.end(), t.values.begin(), t.values.end());
        all.starts.insert(all.starts.end(), t.starts.begin(), t.starts.end());
        all.silent.insert(all.silent.end(), t.silent.begin(), t.silent.end());
    });
    all.duration = st.seconds();
    return all;
}

// ---------------------------------------------------------------- cache

SpectrogramCache::SpectrogramCache(std::string dir) : dir_(std::move(dir)) {
    if (dir_.empty()) {
        if (const char* e = std::getenv("GENREKIT_CACHE"); e && *e) dir_ = (fs::path(e) / "spectrograms").string();
        else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) dir_ = (fs::path(x) / "genrekit" / "spectrograms").string();
        else if (const char* h = std::getenv("HOME"); h && *h) dir_ = (fs::path(h) / ".cache" / "genrekit" / "spectrograms").string();
        else dir_ = "none";
    }
}

std::string SpectrogramCache::entry_path(const std::string& path, const SpectrogramParams& p) const {
    const std::string bytes = read_file(path, true);
    Sha256 h;
    const std::string head = std::string(kCacheFormat) + "\n" + dump_json(p.to_json()) + "\n" + sha256_hex(bytes);
    h.update(head.data(), head.size());
    const std::string key = h.hex();
    return (fs::path(dir_) / key.substr(0, 2) / (key + ".bin")).string();
}

namespace {

// Entry layout: magic[8], u32 header length, header JSON {key, bands, frames, segments,
// starts, silent, duration, data_sha256}, then segments*bands*frames float32 (little-endian).
std::string serialize_entry(const std::string& key, const TrackSpectrograms& t) {
    const std::string data(reinterpret_cast<const char*>(t.values.data()), t.values.size() * sizeof(float));
    const json h = {{"key", key},        {"bands", t.bands},       {"frames", t.frames},          {"segments", t.size()},
                    {"starts", t.starts}, {"silent", t.silent},    {"duration", t.duration},      {"data_sha256", sha256_hex(data)}};
    const std::string hs = dump_json(h);
    std::string out(kMagic, 8);
    const auto n = static_cast<std::uint32_t>(hs.size());
    out.append(reinterpret_cast<const char*>(&n), 4);
    out += hs;
    out += data;
    return out;
}

// False for anything but an intact entry of `key` with p's shape; sizes from its header are
// checked against p and against the bytes present before anything is allocated.
bool parse_entry(const std::string& bytes, const std::string& key, const std::string& path, const SpectrogramParams& p, TrackSpectrograms& t) {
    if (bytes.size() < 12 || std::memcmp(bytes.data(), kMagic, 8) != 0) return false;
    std::uint32_t n = 0;
    std::memcpy(&n, bytes.data() + 8, 4);
    if (bytes.size() < 12 + static_cast<std::size_t>(n)) return false;
    json h;
    try {
        h = json::parse(bytes.substr(12, n));
        if (h.at("key") != key || h.at("bands") != p.bands() || h.at("frames") != p.frames()) return false;
        t.bands = p.bands();
        t.frames = p.frames();
        const json& segs_json = h.at("segments");
        if (!segs_json.is_number_unsigned()) return false;
        const std::uint64_t segs = segs_json.get<std::uint64_t>(), data_bytes = bytes.size() - 12 - n;
        const auto count = product_within({segs, static_cast<std::uint64_t>(t.bands), static_cast<std::uint64_t>(t.frames)}, data_bytes / sizeof(float));
        if (!count || data_bytes != *count * sizeof(float)) return false;
        t.starts = h.at("starts").get<std::vector<double>>();
        t.silent = h.at("silent").get<std::vector<std::uint8_t>>();
        t.duration = h.at("duration");
        if (t.starts.size() != segs || t.silent.size() != segs) return false;
        const std::string data = bytes.substr(12 + n);
        if (sha256_hex(data) != h.at("data_sha256").get<std::string>()) return false;
        t.values.resize(*count);
        std::memcpy(t.values.data(), data.data(), data.size());
    } catch (const std::exception&) {
        return false;
    }
    t.path = path;
    return true;
}

}  // namespace

TrackSpectrograms SpectrogramCache::get(const std::string& path, const SpectrogramParams& p) {
    if (dir_ == "none") {
        ++misses_;
        return compute_spectrograms(path, p);
    }
    const std::string entry = entry_path(path, p);
    const std::string key = fs::path(entry).stem().string();
    std::error_code ec;
    if (fs::is_regular_file(entry, ec)) {
        TrackSpectrograms t;
        std::string bytes;
        try {
            bytes = read_file(entry, true);
        } catch (const Error&) {
            bytes.clear();
        }
        if (parse_entry(bytes, key, path, p, t)) {
            ++hits_;
            return t;
        }
    }
    ++misses_;
    TrackSpectrograms t = compute_spectrograms(path, p);
    fs::create_directories(fs::path(entry).parent_path(), ec);
    if (!ec) {
        try {
            write_file_atomic(entry, serialize_entry(key, t), true);
        } catch (const Error&) {
            // An unwritable cache only costs time: the spectrograms are still returned.
        }
    }
    return t;
}

// ---------------------------------------------------------------- standardization

BandStandardizer BandStandardizer::fit(const std::vector<const TrackSpectrograms*>& tracks, const std::vector<std::vector<std::size_t>>& segments) {
    if (tracks.empty()) throw Error("standardization: no training segments");
    return fit(tracks, segments, tracks[0]->bands, tracks[0]->frames, {});
}

BandStandardizer BandStandardizer::fit(const std::vector<const TrackSpectrograms*>& tracks, const std::vector<std::vector<std::size_t>>& segments,
                                       int B, int T, const std::function<void(std::vector<double>&)>& combine) {
    BandStandardizer z;
    z.mean.assign(static_cast<std::size_t>(B), 0.0);
    z.sd.assign(static_cast<std::size_t>(B), 0.0);
    // sums[b] per band, then the frame count at [B].
    std::vector<double> sum(static_cast<std::size_t>(B) + 1, 0.0), ss(static_cast<std::size_t>(B), 0.0);
    double& count = sum[static_cast<std::size_t>(B)];
    // Two passes (mean, then squared deviations) in double.
    for (std::size_t i = 0; i < tracks.size(); ++i)
        for (auto s : segments[i]) {
            const float* d = tracks[i]->data(s);
            for (int b = 0; b < B; ++b)
                for (int f = 0; f < T; ++f) sum[static_cast<std::size_t>(b)] += d[b * T + f];
            count += T;
        }
    if (combine) combine(sum);
    if (count == 0) throw Error("standardization: no training segments");
    for (int b = 0; b < B; ++b) z.mean[static_cast<std::size_t>(b)] = sum[static_cast<std::size_t>(b)] / count;
    for (std::size_t i = 0; i < tracks.size(); ++i)
        for (auto s : segments[i]) {
            const float* d = tracks[i]->data(s);
            for (int b = 0; b < B; ++b)
                for (int f = 0; f < T; ++f) {
                    const double v = d[b * T + f] - z.mean[static_cast<std::size_t>(b)];
                    ss[static_cast<std::size_t>(b)] += v * v;
                }
        }
    if (combine) combine(ss);
    for (int b = 0; b < B; ++b) {
        const double sd = std::sqrt(ss[static_cast<std::size_t>(b)] / count);
        z.sd[static_cast<std::size_t>(b)] = sd > 1e-8 && std::isfinite(sd) ? sd : 1.0;
    }
    return z;
}

void BandStandardizer::apply(float* seg, int frames) const {
    for (std::size_t b = 0; b < mean.size(); ++b) {
        const float m = static_cast<float>(mean[b]), inv = static_cast<float>(1.0 / sd[b]);
        float* row = seg + b * static_cast<std::size_t>(frames);
        for (int f = 0; f < frames; ++f) row[f] = (row[f] - m) * inv;
    }
}

json BandStandardizer::to_json() const { return {{"kind", "per_band_zscore"}, {"mean", mean}, {"sd", sd}}; }

BandStandardizer BandStandardizer::from_json(const json& j, int bands, const std::string& where) {
    BandStandardizer z;
    try {
        z.mean = j.at("mean").get<std::vector<double>>();
        z.sd = j.at("sd").get<std::vector<double>>();
    } catch (const json::exception& e) {
        throw Error(where + ": standardization metadata is malformed: " + e.what());
    }
    if (z.mean.size() != static_cast<std::size_t>(bands) || z.sd.size() != static_cast<std::size_t>(bands))
        throw Error(where + ": standardization has " + std::to_string(z.mean.size()) + " bands, the front end has " + std::to_string(bands));
    for (std::size_t b = 0; b < z.sd.size(); ++b)
        if (!std::isfinite(z.mean[b]) || !(z.sd[b] > 0) || !std::isfinite(z.sd[b])) throw Error(where + ": standardization value " + std::to_string(b) + " is not finite/positive");
    return z;
}

}  // namespace genrekit
