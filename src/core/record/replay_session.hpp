#pragma once
// Plays a recording into an EventPipeline, the one live watching uses. Keeps what the recording said about
// the world as its frames arrive (latest configuration, WireGuard interfaces and bracket plan per namespace;
// drop-reason and symbol names) and answers the pipeline's questions from that. Pure: no root, any host.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "record/recording_frames.hpp"
#include "record/recording_reader.hpp"
#include "timeline/event_pipeline.hpp"

namespace wgbpf {

struct ReplayOutcome {
    uint64_t frames = 0; // frames used, the header included
    uint64_t events = 0; // event frames fed to the pipeline
    PerModule lost;      // from lost frames, per module
    std::optional<RecordingEnd> end;
    uint64_t skipped_unknown = 0; // frames of kinds this wgbpf does not know
    std::string problem;          // "" when read to its end frame; else why it stopped early
};

class ReplaySession {
public:
    explicit ReplaySession(PipelineSinks sinks);
    ReplaySession(const ReplaySession&) = delete; // the pipeline's sources point into this
    ReplaySession& operator=(const ReplaySession&) = delete;
    ~ReplaySession();

    // Feeds every frame to the pipeline, then finishes it. Stops at the first problem; what came before it
    // is rendered all the same.
    ReplayOutcome run(RecordingReader& reader);

    std::string link_name(int ifindex) const;        // in the first namespace the recording described, "" when unknown
    const NetnsConfig* config(uint32_t netns) const; // the latest configuration read for it
    std::optional<uint32_t> first_netns() const { return first_netns_; } // the first namespace described
    std::vector<WgInterface> wireguard(uint32_t netns) const;            // its WireGuard interfaces, as last described
    std::string netns_name(uint32_t netns) const;                        // "" unless several namespaces were recorded
    const EventPipeline& pipeline() const { return *pipeline_; }
    double event_seconds() const { return first_ns_ ? (now_ns_ - first_ns_) / 1e9 : 0.0; } // first to last event
    uint64_t last_event_ns() const { return now_ns_; }

private:
    Result<void> apply(const RecordingFrame& frame, ReplayOutcome& out);
    void feed_event(const std::vector<std::byte>& record);
    PipelineSources sources();

    std::map<uint32_t, NetnsConfig> configs_;
    std::map<uint32_t, std::vector<WgInterface>> wireguard_;
    std::map<uint32_t, BracketPlan> plans_;
    std::map<uint32_t, std::string> names_of_netns_;
    RecordingNames names_;
    std::optional<uint32_t> first_netns_;
    uint64_t first_ns_ = 0;
    uint64_t now_ns_ = 0; // latest event time: the recording's clock
    uint64_t flushed_ns_ = 0;
    bool recorded_flushes_ = false; // the recording says where watch flushed: replay exactly that
    std::unique_ptr<EventPipeline> pipeline_;
};

} // namespace wgbpf
