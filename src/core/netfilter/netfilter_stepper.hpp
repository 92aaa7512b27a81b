#pragma once
// Turns bracket, chain and drop events into NetfilterSteps and DropSteps. Pure: the plan and ruleset
// come from the caller, names of drop reasons and locations through resolvers.
// Brackets: a packet that reaches the next bracket of a hook point was accepted by the chains between
// ("accept"); one that is freed with NETFILTER_DROP after a bracket was dropped by the chains after it
// ("drop"); one that shows up at another hook point first was "stolen" there; one not seen again within
// idle_ns ends "unknown". Marks that changed point at candidate rules (those that set that mark), by
// their text: which rule matched is not observed.
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>

#include "config/nft_ruleset.hpp"
#include "netfilter/bracket_plan.hpp"
#include "netfilter/netfilter_step.hpp"

namespace wgbpf {

struct NetfilterContext {
    const NftRuleset* ruleset = nullptr;
    const BracketPlan* plan = nullptr; // the current generation's plan (older generations: events dropped, counted)
};

class NetfilterStepper {
public:
    using StepSink = std::function<void(NetfilterStep&&)>;
    using DropSink = std::function<void(DropStep&&)>;
    using ReasonName = std::function<std::string(uint32_t reason)>;  // "NETFILTER_DROP"
    using SymbolName = std::function<std::string(uint64_t address)>; // "nft_do_chain+0x3f2"
    using ContextFor = std::function<NetfilterContext(uint32_t netns)>;

    NetfilterStepper(ContextFor context, StepSink steps, DropSink drops, ReasonName reasons, SymbolName symbols,
                     uint64_t idle_ns = 50'000'000);

    void add(const NfBracketEvent& e);
    void add(const NfChainEvent& e);
    void add(const DropEvent& e);
    void flush(uint64_t now_ns); // packets idle since now - idle_ns: their open span ends "unknown"
    void flush_all();
    uint64_t stale_generation_events() const { return stale_; }

private:
    // One entry per packet seen recently; flush() bounds the map (callers flush periodically).
    struct Pending {
        std::optional<NfBracketEvent> last; // the last bracket this packet passed
        std::string dropped_by;             // exact flavour: the chain whose verdict was drop
        uint32_t netns = 0;
        uint64_t seen_ns = 0;              // last event of this packet
        std::optional<DropStep> held_drop; // a NETFILTER_DROP waiting for the chain verdict that explains it
    };
    void emit_between(const NetfilterContext& ctx, const NfBracketEvent& from, const NfBracketEvent& to);
    // The span after `last` ended without a next bracket: emit it with `verdict`; returns its chains.
    std::string emit_open_span(const NfBracketEvent& last, NfVerdict verdict, const std::string& note);
    void finish(Pending& p); // what a packet leaves behind when it is forgotten
    void seen(Pending& p, uint64_t id, uint64_t t_ns);

    ContextFor context_;
    StepSink steps_;
    DropSink drops_;
    ReasonName reasons_;
    SymbolName symbols_;
    uint64_t idle_ns_;
    std::unordered_map<uint64_t, Pending> pending_; // by packet id
    // Each time a packet was seen, oldest first: a flush looks only at the ones idle long enough, not at every
    // pending packet (thousands under load, at every flush). An entry whose packet was seen again since, or is
    // gone, is passed over.
    struct Seen {
        uint64_t t_ns;
        uint64_t id;
    };
    std::deque<Seen> by_time_;
    uint64_t stale_ = 0;
};

} // namespace wgbpf
