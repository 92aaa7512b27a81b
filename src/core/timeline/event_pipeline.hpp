#pragma once
// Raw records in, what wgbpf shows out: decode -> route walks, netfilter steps, drops, device events ->
// (packet timelines). Pure: live watching and offline replay feed the same pipeline.
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "event/module_id.hpp"
#include "config/netns_config.hpp"
#include "event/event_decoder.hpp"
#include "netfilter/bracket_plan.hpp"
#include "netfilter/netfilter_stepper.hpp"
#include "nftrace/trace_merger.hpp"
#include "route/walk_grouper.hpp"
#include "timeline/packet_timeline.hpp"
#include "wireguard/wg_config.hpp"

namespace wgbpf {

// What the pipeline needs to know about the world; live: netlink and BTF; replay: the recording.
struct PipelineSources {
    std::function<const NetnsConfig*(uint32_t netns)> config;
    std::function<const BracketPlan*(uint32_t netns)> plan;            // nullptr: exact flavour or none
    std::function<std::vector<WgInterface>(uint32_t netns)> wireguard; // WireGuard interfaces of the namespace
    std::function<std::string(uint32_t reason)> drop_reason;
    std::function<std::string(uint64_t address)> symbol;
    bool selective = false; // an expression or sampling picked the packets: some absences may be their doing
};

// Where results go. Either the per-step sinks (--steps) or the timeline sink is used.
struct PipelineSinks {
    std::function<void(const RouteDecision&)> route;
    std::function<void(const NetfilterStep&)> netfilter;
    std::function<void(const DropStep&)> drop;
    std::function<void(const PacketTimeline&)> timeline; // set: build timelines instead of step lines
};

class EventPipeline {
public:
    EventPipeline(PipelineSources sources, PipelineSinks sinks);
    ~EventPipeline();

    void feed(std::span<const std::byte> record); // one ring-buffer record
    void flush(uint64_t now_ns);                  // finish what has been idle; timelines go out here

    // Finishes everything (exit / end of recording). Once `out_of_time` says so, what is left is counted
    // (not_shown) instead of shown: a Ctrl-C under a flood must not wait for thousands of timelines.
    void finish(std::function<bool()> out_of_time = {});
    uint64_t not_shown() const { return not_shown_; }
    // The kernel lost events since the last flush: every timeline open or completed since then gets a gap
    // (timelines wait for the next flush to go out, so that a loss read after they completed still marks them).
    // `known_at_ns`: when the count was read (every one lost before then; 0: not known).
    void lost(ModuleId module, uint64_t count, uint64_t known_at_ns = 0);

    // nftrace: from now on outputs wait briefly for trace events, which are merged into their netfilter steps.
    void enable_nftrace(NftraceMergeLimits limits = {});
    void trace(NftraceEvent event);                 // enables nftrace if it was not
    const NftraceMergeStats* nftrace_stats() const; // nullptr while nftrace is off

    const DecodeStats& decode_stats() const { return decoder_.stats(); }
    const PerModule& events_per_module() const { return events_; }
    uint64_t lone_routes() const; // route decisions no packet took (timelines only; --steps shows them all)
    // The newest event time fed so far: with records still waiting in the ring buffer, nothing later than this
    // may be judged idle or missing yet (the caller's flush time is then this, not the clock).
    uint64_t latest_event_ns() const { return latest_event_ns_; }

private:
    struct Dispatch;
    void emit(PipelineOutput&& output);
    void deliver(PipelineOutput&& output);
    PipelineSources sources_;
    PipelineSinks sinks_;
    EventDecoder decoder_;
    PerModule events_;
    std::unique_ptr<WalkGrouper> grouper_;
    std::unique_ptr<NetfilterStepper> stepper_;
    std::unique_ptr<class TimelineBuilder> timelines_;
    static constexpr size_t kMaxCompletedHeld = 16384; // memory stays bounded however long a batch is
    std::vector<PacketTimeline> completed_;            // completed since the last flush
    void release_completed();
    void hold_completed();
    std::function<bool()> out_of_time_; // set during finish()
    uint64_t not_shown_ = 0;
    uint64_t latest_event_ns_ = 0;
    std::unique_ptr<NftraceMerger> merger_; // declared last: destroyed first, it points back into this
};

} // namespace wgbpf
