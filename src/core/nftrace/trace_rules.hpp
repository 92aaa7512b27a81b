#pragma once
// Which packets wgbpf's trace table marks for nftrace (`meta nftrace set 1`): the same packets the BPF filter
// watches. Pure: the plan here, the netlink batch that creates it in netlink/nft_trace_table.
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "common/ip_address.hpp"
#include "event/netfilter_events.hpp"
#include "wireguard/wg_config.hpp"

namespace wgbpf {

// Measured on 6.18: a filter chain accepts any 32-bit priority, INT_MIN included (NF_IP_PRI_FIRST). There
// the trace rules run before every other chain of the hook (raw -300 and conntrack defrag -400 included),
// so every chain after it is traced. A user chain also at INT_MIN registered earlier runs after ours
// (the later registration runs first at equal priority).
inline constexpr int32_t kTraceChainPriority = std::numeric_limits<int32_t>::min();

// The five hooks of the inet family the trace table has a chain on.
inline constexpr NfHook kTraceHooks[] = {NfHook::prerouting, NfHook::input, NfHook::forward, NfHook::output,
                                         NfHook::postrouting};

struct TraceCondition {
    enum class Field : uint8_t {
        iifname,
        oifname, // meta iifname / oifname == name
        mark,    // meta mark == number
        nfproto, // meta nfproto == number (NFPROTO_IPV4 / NFPROTO_IPV6)
        l4proto, // meta l4proto == number
        saddr,
        daddr, // ip/ip6 saddr/daddr == address (after nfproto)
        sport,
        dport, // th sport/dport == number (after l4proto)
    };
    Field field;
    std::string name;    // iifname, oifname
    uint32_t number = 0; // mark, nfproto, l4proto, sport, dport
    IpAddress address;   // saddr, daddr

    bool operator==(const TraceCondition&) const = default;
};

struct TraceRule {
    std::vector<TraceCondition> match; // all must hold; empty: every packet
    std::string text() const;          // as nft would print it, e.g. `iifname "wg0" meta nftrace set 1`
};

struct TraceChainPlan {
    NfHook hook;
    std::vector<TraceRule> rules;
};

// What wgbpf watches: an interface (by name) and, for a WireGuard interface, its outer packets.
struct TraceScope {
    std::string iface; // "" = everything
    std::optional<WgInterface> wireguard;
};

// One chain per hook of kTraceHooks, each with the rules that mark the scope's packets there.
std::vector<TraceChainPlan> plan_trace_chains(const TraceScope& scope);

} // namespace wgbpf
