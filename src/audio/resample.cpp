#include <soxr.h>

#include <algorithm>
#include <cmath>

#include "genrekit/audio.hpp"
#include "genrekit/error.hpp"

namespace genrekit {

struct StreamResampler::Impl {
    soxr_t soxr = nullptr;
    double ratio = 1;
    std::uint64_t in_total = 0, out_total = 0;
    std::vector<float> block;

    // ref: librosa 0.7.2 resample: n_samples = ceil(len * ratio), then fix_length.
    std::uint64_t length_for(std::uint64_t n_in) const {
        return static_cast<std::uint64_t>(std::ceil(static_cast<double>(n_in) * ratio));
    }
    // Appends soxr's output, never past ceil(inputs so far * ratio): the final length is at
    // least that, so nothing appended ever has to be taken back.
    void emit(std::size_t n, std::uint64_t cap, std::vector<float>& out) {
        const auto keep = static_cast<std::size_t>(std::min<std::uint64_t>(n, cap > out_total ? cap - out_total : 0));
        out.insert(out.end(), block.begin(), block.begin() + static_cast<std::ptrdiff_t>(keep));
        out_total += keep;
    }
};

StreamResampler::StreamResampler(int from_rate, int to_rate) : impl_(std::make_unique<Impl>()) {
    require_param(from_rate > 0, "from_rate", from_rate, "> 0");
    require_param(to_rate > 0, "to_rate", to_rate, "> 0");
    impl_->ratio = static_cast<double>(to_rate) / from_rate;
    // Very-high quality (SOXR_VHQ): the closest soxr setting to resampy's 'kaiser_best',
    // which librosa 0.7.2 used; librosa >= 0.10 defaults to soxr_hq.
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_VHQ, 0);
    soxr_error_t err = nullptr;
    impl_->soxr = soxr_create(from_rate, to_rate, 1, &err, &io, &quality, nullptr);
    if (err) throw Error(std::string("resampling failed: ") + err);
    impl_->block.resize(1 << 15);
}

StreamResampler::~StreamResampler() { soxr_delete(impl_->soxr); }

void StreamResampler::push(const float* in, std::size_t n, std::vector<float>& out) {
    Impl& m = *impl_;
    m.in_total += n;
    const std::uint64_t cap = m.length_for(m.in_total);
    std::size_t used = 0;
    for (;;) {
        std::size_t idone = 0, odone = 0;
        const soxr_error_t err = soxr_process(m.soxr, in + used, n - used, &idone, m.block.data(), m.block.size(), &odone);
        if (err) throw Error(std::string("resampling failed: ") + err);
        used += idone;
        m.emit(odone, cap, out);
        if (used == n && odone < m.block.size()) return;
    }
}

void StreamResampler::finish(std::vector<float>& out) {
    Impl& m = *impl_;
    const std::uint64_t total = m.length_for(m.in_total);
    for (;;) {
        std::size_t odone = 0;
        const soxr_error_t err = soxr_process(m.soxr, nullptr, 0, nullptr, m.block.data(), m.block.size(), &odone);
        if (err) throw Error(std::string("resampling failed: ") + err);
        m.emit(odone, total, out);
        if (odone == 0 || m.out_total >= total) break;
    }
    out.resize(out.size() + static_cast<std::size_t>(total - m.out_total), 0.f);  // fix_length pads with zeros
    m.out_total = total;
}

std::vector<float> resample(const std::vector<float>& y, int from_rate, int to_rate) {
    require_param(from_rate > 0, "from_rate", from_rate, "> 0");
    require_param(to_rate > 0, "to_rate", to_rate, "> 0");
    if (from_rate == to_rate) return y;
    std::vector<float> out;
    StreamResampler r(from_rate, to_rate);
    r.push(y.data(), y.size(), out);
    r.finish(out);
    return out;
}

}  // namespace genrekit
