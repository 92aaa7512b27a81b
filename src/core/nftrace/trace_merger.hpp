#pragma once
// Attaches nftrace's per-chain events to wgbpf's netfilter steps: the rule that decided, every rule traced,
// the trace id. Trace messages (netlink) and steps (ring buffer) arrive separately and in either order, so
// every output is held for a short while (monotonic time) before it is released, merged with what arrived
// by then. Outputs keep their order. Pure: live watching and replay use it alike.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>
#include <tuple>
#include <variant>
#include <vector>

#include "netfilter/netfilter_step.hpp"
#include "nftrace/trace_event.hpp"
#include "route/route_decision.hpp"
#include "timeline/packet_timeline.hpp"

namespace wgbpf {

// What the event pipeline hands out: step lines (--steps) or whole timelines.
using PipelineOutput = std::variant<RouteDecision, NetfilterStep, DropStep, PacketTimeline>;

struct NftraceMergeLimits {
    uint64_t hold_ns = 100'000'000;           // how long an output waits for late trace messages
    uint64_t trace_window_ns = 2'000'000'000; // a trace read this long after a step is not that step's
    uint64_t clock_slack_ns = 1'000'000; // a trace read this much "before" its step still counts (clock reads differ)
    size_t max_held = 4096;              // outputs waiting; more: the oldest is released early
    size_t max_traces = 16384;           // chain traces waiting for a step; more: the oldest is dropped
};

struct NftraceMergeStats {
    uint64_t received = 0;  // trace events given to the merger
    uint64_t merged = 0;    // of those, attached to a netfilter step
    uint64_t unmatched = 0; // of those, no step took them (expired, dropped at the cap, or still waiting at the end)
    uint64_t dropped = 0;   // of the unmatched, dropped because too many were waiting
    uint64_t released_early = 0; // outputs released before their hold ended (too many held)
};

class NftraceMerger {
public:
    using Release = std::function<void(PipelineOutput&&)>;
    explicit NftraceMerger(Release release, NftraceMergeLimits limits = {});

    void add(NftraceEvent event);
    void hold(PipelineOutput output); // released, merged, once `hold_ns` have passed (see flush)
    void flush(uint64_t now_ns);      // releases what has waited long enough; forgets traces too old to match
    void finish();                    // releases everything
    const NftraceMergeStats& stats() const { return stats_; }

private:
    // One packet's events in one table, in arrival order: a base chain and the chains it jumped to.
    struct TableTrace {
        std::vector<NftraceEvent> events;
        std::vector<bool> used; // per event: already attached to a step
        uint64_t first_ns = 0;
        uint64_t last_ns = 0;
        std::optional<NftracePacket> packet;
    };
    // Family, table, trace id, and a serial: the id is a hash of the skb and its flow, so a later packet of the
    // same flow in a recycled skb gets the same id; each packet gets its own trace.
    using Key = std::tuple<std::string, std::string, uint32_t, uint64_t>;
    using TraceName = std::tuple<std::string, std::string, uint32_t>;
    struct Held {
        uint64_t release_ns;
        PipelineOutput output;
    };

    void release_front();
    void merge(PipelineOutput& output);
    void merge(NetfilterStep& step);
    bool attach(NetfilterStep& step, const std::string& family, const std::string& table, const std::string& chain,
                bool own_chain);
    void forget(std::map<Key, TableTrace>::iterator it);
    void index(const Key& key, const NftracePacket& packet);

    // Traces by what tells one packet from the next (table, destination, IPv4 id or length): a step looks
    // at its few candidates, not at every trace waiting (a flood keeps thousands). A trace whose packet
    // lacks those fields waits under `unindexed_`, looked at by every step.
    static uint64_t bucket(const std::string& family, const std::string& table, uint64_t packet_key);
    std::unordered_multimap<uint64_t, Key> by_packet_;
    std::set<Key> unindexed_;
    Release release_;
    NftraceMergeLimits limits_;
    NftraceMergeStats stats_;
    std::deque<Held> held_;
    std::map<Key, TableTrace> traces_;
    std::deque<Key> trace_order_;     // oldest first, for the cap
    std::map<TraceName, Key> latest_; // the trace new events of that name go to
    uint64_t serial_ = 0;
    uint64_t now_ns_ = 0;
};

} // namespace wgbpf
