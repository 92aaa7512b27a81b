#pragma once
// What netfilter did to a packet at one chain (or one span of chains), and drops.
// The `"kind": "netfilter"` and `"kind": "drop"` objects of the JSON contract.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "event/netfilter_events.hpp"

namespace wgbpf {

// A rule nftrace reported for the packet in this step's chain (or a chain it jumped to), in order.
struct TracedRule {
    uint64_t handle = 0;
    std::string rule;    // text from the ruleset by handle ("" when the ruleset did not have it)
    std::string verdict; // "continue" | "accept" | "drop" | "jump CHAIN" | ...
    std::string chain;   // "family table chain" when not the step's own chain, else ""
};

struct NetfilterStep {
    uint64_t t_ns = 0;
    uint32_t netns = 0;
    PacketInfo pkt;       // as seen entering the chain
    PacketInfo pkt_after; // as the next of wgbpf's hooks saw it (brackets; not is_ip when unknown): NAT shows here
    NfHook hook = NfHook::prerouting;
    std::string family; // table family: "ip" | "ip6" | "inet" | ..., "iptables" | "ip6tables" (legacy),
                        // "" when not a chain (a change between two brackets with no chain there)
    std::string table;
    std::string chain;
    std::vector<std::string> shared_with; // other chains in the same span ("inet filter output"), when bracketed
    // Conntrack's NAT translated the packet here: an established connection's packets are translated as its first
    // packet was (a NAT chain's choice, possibly another hook's: a reply is de-masqueraded in prerouting) without
    // running NAT chains. Holds the NAT chains of this span that did not run (may be empty); nullopt: not seen.
    std::optional<std::vector<std::string>> conntrack_nat;
    int32_t priority = 0;
    NfVerdict verdict = NfVerdict::unknown;
    uint32_t mark_before = 0;
    uint32_t mark_after = 0;
    uint32_t ct_mark_before = 0; // meaningful only when conntrack had looked the packet up (ct_state_before)
    uint32_t ct_mark_after = 0;
    std::string ct_state_before;             // entering: "none" before conntrack has run (its mark is not known yet);
                                             // "" when not observed (older recordings)
    std::string ct_state;                    // after the chain (or before, when dropped)
    bool exact = false;                      // from nft_do_chain (fexit) rather than brackets
    std::vector<std::string> rules_that_set; // candidates: rules that set what changed (mark / ct mark), by text;
                                             // "family table chain: " in front when not in `chain` itself
    std::vector<std::string> notes;
    // From nftrace (`watch --nftrace`), when a trace of this packet in this chain was merged:
    std::optional<uint32_t> trace_id;
    std::optional<uint64_t> rule_handle;  // the rule that decided; absent when the policy did
    std::string rule;                     // its text ("" when the policy decided)
    std::vector<TracedRule> traced_rules; // every rule nftrace reported, in order

    bool ct_tracked_before() const { return ct_state_before != "none"; }
    bool ct_tracked_after() const { return ct_state != "none"; }
    // A change of the connection's mark is only known when both sides saw the connection: a span that
    // conntrack itself ran in shows the mark it found, not a change.
    bool ct_mark_changed() const {
        return ct_tracked_before() && ct_tracked_after() && ct_mark_before != ct_mark_after;
    }
    bool mark_changed() const { return mark_before != mark_after; }
    // Conntrack looks packets up at priority -200 (NF_IP_PRI_CONNTRACK) in prerouting and output: a chain
    // below it cannot see the connection, whatever the hook after it saw.
    bool runs_before_conntrack() const {
        return !family.empty() && (hook == NfHook::prerouting || hook == NfHook::output) && priority < -200;
    }
};

struct DropStep {
    uint64_t t_ns = 0;
    uint32_t netns = 0;
    PacketInfo pkt;
    std::string reason;      // e.g. "NETFILTER_DROP", from the running kernel's enum
    std::string location;    // symbol+offset, e.g. "nft_do_chain+0x3f2"
    std::string chain;       // "inet filter output" when netfilter dropped it and the chain is known
    std::string explanation; // what the drop meant, with the numbers (PKT_TOO_BIG: sizes, MTU, the ICMP sent)
};

} // namespace wgbpf
