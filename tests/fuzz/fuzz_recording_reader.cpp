// libFuzzer: any bytes given to `wgbpf replay` end in frames or an error value, never a crash, a hang or
// unbounded memory. Each input runs twice: as it is (checksums mostly fail, so this exercises the framing)
// and with every complete frame's checksum recomputed (so mutations reach the JSON decoders, the pipeline and
// the renderers). Build: cmake -DWGBPF_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++.
#include <cstddef>
#include <cstdint>
#include <string>

#include "record/recording_format.hpp"
#include "record/recording_reader.hpp"
#include "record/replay_session.hpp"
#include "render/netfilter_render.hpp"
#include "render/route_render.hpp"
#include "render/timeline_render.hpp"

namespace {

using namespace wgbpf;

// Rewrites the checksum of every complete frame after the preamble to the right one.
std::string with_good_checksums(std::string bytes) {
    size_t at = kRecordingPreambleSize;
    while (at + kFrameHeaderSize <= bytes.size()) {
        auto* head = reinterpret_cast<std::byte*>(bytes.data() + at);
        uint32_t kind = get_le32(head), length = get_le32(head + 4);
        if (length > bytes.size() - at - kFrameHeaderSize) break;
        auto payload = std::as_bytes(std::span(bytes.data() + at + kFrameHeaderSize, length));
        put_le32(head + 8, frame_checksum(kind, payload));
        at += kFrameHeaderSize + length;
    }
    return bytes;
}

void replay(std::string bytes, bool steps) {
    auto reader = RecordingReader::from_bytes(std::move(bytes));
    if (!reader) return;
    TextStyle style{true, reader->header().realtime_offset_ns};
    size_t sink = 0; // keeps the renderers' work observable
    PipelineSinks sinks;
    if (steps) {
        sinks.route = [&](const RouteDecision& d) {
            sink +=
                render_route_text(d, style).size() + json_text([&](JsonWriter& w) { write_route_json(w, d); }).size();
        };
        sinks.netfilter = [&](const NetfilterStep& s) {
            sink += render_netfilter_text(s, style).size() +
                    json_text([&](JsonWriter& w) { write_netfilter_json(w, s); }).size();
        };
        sinks.drop = [&](const DropStep& d) {
            sink += render_drop_text(d, style).size() + json_text([&](JsonWriter& w) { write_drop_json(w, d); }).size();
        };
    } else {
        sinks.timeline = [&](const PacketTimeline& t) {
            sink += render_timeline_text(t, style).size() +
                    json_text([&](JsonWriter& w) { write_timeline_json(w, t); }).size();
        };
    }
    ReplaySession session(sinks);
    ReplayOutcome outcome = session.run(*reader);
    sink += outcome.problem.size();
    (void)sink;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string bytes(reinterpret_cast<const char*>(data), size);
    bool steps = size > 0 && (data[size - 1] & 1); // both output modes, chosen by the input
    replay(bytes, steps);
    std::string fixed = with_good_checksums(bytes);
    if (fixed != bytes) replay(std::move(fixed), steps);
    return 0;
}
