#pragma once
// Pairs nftrace's traces with wgbpf's packet timelines and lines their chains up: which chains both saw
// (and whether verdict and mark agree), which only one of them saw. Works on any vector of timelines, from
// a replay or (later) from watching live.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "nftrace/trace_event.hpp"
#include "nftrace/trace_text_parser.hpp"
#include "timeline/packet_timeline.hpp"

namespace wgbpf {

// One pass of a packet through one base chain as nftrace shows it: from its `packet:` event to the next,
// jumps into regular chains included (their verdicts are the base chain's).
struct NftraceChainVisit {
    std::string family, table, chain;
    std::optional<NftracePacket> packet;
    std::string verdict;                // the policy, or a rule's final verdict (accept, drop, queue); "" unknown
    std::optional<uint32_t> mark_after; // from the closing `verdict`/`policy` line (nft prints no mark = 0)
    std::string ct_state;
    size_t line = 0;

    std::string name() const; // "inet filter output"
};

std::vector<NftraceChainVisit> chain_visits(const NftraceTrace& trace);

enum class ChainSide : uint8_t { both, only_nftrace, only_wgbpf };

struct ChainAlignment {
    ChainSide side = ChainSide::both;
    std::string chain;   // "inet filter output"
    uint64_t packet = 0; // wgbpf timeline id (an outer packet's for rows after encapsulation); 0: none
    std::optional<NftraceChainVisit> nftrace;
    std::optional<NetfilterStep> wgbpf;
    std::vector<std::string> disagree; // "verdict", "mark": what differs when both saw the chain
    std::string note;                  // e.g. "verdict not compared: wgbpf did not see the packet leave the chain"
};

struct TraceMatch {
    const NftraceTrace* trace = nullptr;      // null: a wgbpf packet no trace covered
    const PacketTimeline* timeline = nullptr; // null: a trace no wgbpf packet matches
    std::vector<ChainAlignment> chains;
    std::vector<std::string> notes; // the WireGuard encapsulation gap, ...
};

struct Disagreement {
    uint32_t trace_id = 0;
    uint64_t packet = 0;
    std::string chain, what, nftrace, wgbpf;
};

// Where wgbpf packets count as missed by the trace: the namespaces and time span of the matched packets.
struct MatchScope {
    std::set<uint32_t> namespaces;
    uint64_t from = UINT64_MAX, to = 0;
    void widen(const MatchScope& other);
};

struct Comparison {
    std::vector<TraceMatch> traces;     // one per trace, in the log's order
    std::vector<TraceMatch> only_wgbpf; // timelines with netfilter steps no trace matched (scope: see .cpp)
    size_t matched = 0;
    size_t only_nftrace = 0;
    size_t only_wgbpf_packets = 0; // only_wgbpf plus unmatched outer packets shown after their inner trace
    std::vector<Disagreement> disagreements;
    MatchScope scope; // of this comparison's matches
};

// Comparing part of a longer input (CompareStream): `report_unmatched` false leaves wgbpf packets no trace
// took out of `only_wgbpf` (a later trace may still take them); `scope` widens the scope with earlier parts'.
struct MatchOptions {
    bool report_unmatched = true;
    const MatchScope* scope = nullptr;
};

// `interface_name` resolves wgbpf's ifindexes so that nftrace's `iif`/`oif` can be compared too; without it
// (or when it returns "") interfaces are not compared. The timelines must outlive the result.
Comparison compare_traces(const NftraceLog& log, const std::vector<PacketTimeline>& timelines,
                          const std::function<std::string(int ifindex)>& interface_name = {},
                          const MatchOptions& options = {});

} // namespace wgbpf
