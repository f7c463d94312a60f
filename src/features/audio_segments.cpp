// Segments and clips read from an AudioReader in blocks: memory stays flat in the input's length.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "genrekit/error.hpp"
#include "genrekit/featurize.hpp"

namespace genrekit {

namespace {

constexpr std::size_t kBlock = 1 << 15;

// Appends up to `max` samples (all when max < 0) from r to out; false when r ended first.
bool read_into(AudioReader& r, std::vector<float>& out, std::int64_t max, AudioStats& st) {
    for (;;) {
        std::size_t ask = kBlock;
        if (max >= 0) ask = static_cast<std::size_t>(std::min<std::int64_t>(static_cast<std::int64_t>(ask), max - static_cast<std::int64_t>(out.size())));
        if (ask == 0) return true;
        const std::size_t at = out.size();
        out.resize(at + ask);
        const std::size_t got = r.read(out.data() + at, ask);
        out.resize(at + got);
        for (std::size_t i = at; i < out.size(); ++i) st.peak = std::max(st.peak, std::abs(out[i]));
        st.samples += got;
        st.sample_rate = r.sample_rate();
        if (got == 0) return false;
    }
}

std::string secs(double s) {
    std::ostringstream o;
    o.precision(1);
    o << std::fixed << s << " s";
    return o.str();
}

}  // namespace

void set_stdin_format(std::vector<InputFile>& inputs, const RawFormat& raw) {
    if (raw.encoding.empty()) return;
    const auto it = std::find_if(inputs.begin(), inputs.end(), [](const InputFile& f) { return AudioReader::is_stdin(f.path); });
    if (it == inputs.end()) throw Error("--raw describes standard input: give '-' as the input");
    it->raw = raw;
}

double AudioStats::peak_dbfs() const { return peak > 0 ? 20.0 * std::log10(static_cast<double>(peak)) : -HUGE_VAL; }

ClipPolicy ClipSpec::parse(const std::string& name) {
    if (name == "auto") return ClipPolicy::Auto;
    if (name == "whole") return ClipPolicy::Whole;
    if (name == "first") return ClipPolicy::First;
    if (name == "middle") return ClipPolicy::Middle;
    throw Error("--clip must be auto, whole, first or middle, not '" + name + "'");
}

AudioStats for_each_segment(AudioReader& reader, const SegmentSpec& spec,
                            const std::function<void(const Segment&, std::span<const float>)>& on_segment) {
    spec.validate();
    if (spec.mode == SegmentMode::Whole) throw std::logic_error("for_each_segment: whole clips go through read_clip");
    const SegmentGeometry g = segment_geometry(reader.sample_rate(), spec);
    const std::size_t step = g.step, len = g.length;
    const int max = g.max_segments;
    AudioStats st;
    std::vector<float> buf;       // samples [buf_start, buf_start + buf.size())
    std::uint64_t buf_start = 0;
    bool more = true;
    auto drop_before = [&](std::uint64_t s) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(s > buf_start ? s - buf_start : 0, buf.size()));
        buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
        buf_start += n;
    };
    for (int i = 0; max <= 0 || i < max; ++i) {
        const std::uint64_t s = static_cast<std::uint64_t>(i) * step;
        drop_before(s);
        while (more && buf_start + buf.size() < s + len) {
            more = read_into(reader, buf, static_cast<std::int64_t>(buf.size() + kBlock), st);
            drop_before(s);  // a hop longer than the segment skips samples
        }
        if (buf_start + buf.size() < s + len) break;
        on_segment({static_cast<std::size_t>(s), len, i}, std::span<const float>(buf.data() + (s - buf_start), len));
    }
    return st;
}

Clip read_clip(const std::string& path, const LoadParams& params, const ClipSpec& spec) {
    AudioReader r(path, params);
    Clip c;
    c.sample_rate = r.sample_rate();
    const double declared = r.declared_seconds();
    const auto clip_samples = static_cast<std::int64_t>(std::lround(spec.seconds * c.sample_rate));
    ClipPolicy policy = spec.policy;
    if (policy == ClipPolicy::Auto && declared >= 0) policy = declared <= spec.whole_up_to ? ClipPolicy::Whole : ClipPolicy::Middle;
    if (policy == ClipPolicy::Middle && declared >= 0 && declared > spec.seconds) {
        LoadParams mid = params;
        mid.offset += (declared - spec.seconds) / 2;
        mid.duration = spec.seconds;
        AudioReader m(path, mid);
        read_into(m, c.samples, -1, c.stats);
        c.start = mid.offset - params.offset;
        if (spec.policy == ClipPolicy::Auto)
            c.note = path + ": " + secs(declared) + " long: its features describe the middle " + secs(spec.seconds) + " (from " +
                     secs(c.start) + "; --clip whole|first|middle chooses)";
        return c;
    }
    if (policy == ClipPolicy::Whole) {
        read_into(r, c.samples, -1, c.stats);
        return c;
    }
    if (policy == ClipPolicy::Auto) {  // length unknown (a stream): whole if it ends soon enough
        const auto limit = static_cast<std::int64_t>(std::lround(spec.whole_up_to * c.sample_rate)) + 1;
        if (!read_into(r, c.samples, limit, c.stats) || static_cast<std::int64_t>(c.samples.size()) < limit) return c;
        c.samples.resize(static_cast<std::size_t>(clip_samples));
        c.note = path + ": longer than " + secs(spec.whole_up_to) + " and of unknown length: its features describe the first " +
                 secs(spec.seconds) + " (--clip whole reads it all)";
        return c;
    }
    read_into(r, c.samples, clip_samples, c.stats);  // First, or Middle of a stream or a short input
    return c;
}

}  // namespace genrekit
