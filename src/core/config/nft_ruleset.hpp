#pragma once
// A namespace's nftables ruleset as wgbpf needs it: tables, base chains with hook, priority and
// policy, rules with handles and the text `nft list ruleset` prints. Pure data.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "event/netfilter_events.hpp"

namespace wgbpf {

struct NftRule {
    uint64_t handle = 0;
    std::string text; // as nft prints it, e.g. `meta l4proto udp meta mark 0x0000ca6c ct mark set meta mark`
    std::string comment;
};

struct NftChain {
    std::string family; // "ip" | "ip6" | "inet" | "arp" | "bridge" | "netdev"
    std::string table;
    std::string name;
    uint64_t handle = 0;
    uint64_t table_handle = 0;
    bool base = false;          // has a hook
    std::string type;           // "filter" | "nat" | "route" (base chains)
    std::optional<NfHook> hook; // base chains on the inet hooks (ingress/egress etc. are left out)
    std::string hook_text;      // as nft names it, also for hooks wgbpf does not bracket
    int32_t priority = 0;
    std::string policy; // "accept" | "drop" (base chains)
    std::vector<NftRule> rules;

    std::string qualified() const; // "inet filter output"
    const NftRule* rule(uint64_t handle) const;
};

struct NftTable {
    std::string family;
    std::string name;
    uint64_t handle = 0;
    uint32_t flags = 0; // NFT_TABLE_F_* (dormant 1, owner 2, persist 4)
};

// iptables-legacy registers hooks at fixed priorities (raw -300, mangle -150, nat -100/100, filter 0,
// security 50): named when its tables exist in the namespace (/proc/net/ip_tables_names).
struct LegacyTable {
    uint8_t pf = kNfprotoIpv4; // kNfprotoIpv4 | kNfprotoIpv6
    std::string name;          // "filter", "mangle", ...
};

struct NftRuleset {
    std::vector<NftTable> tables;
    std::vector<NftChain> chains;        // base and regular chains
    std::vector<LegacyTable> legacy;     // iptables-legacy tables present
    std::vector<uint64_t> hidden_tables; // handles of wgbpf's own trace tables, left out above: their chain
                                         // runs are wgbpf's doing, not the user's, and are not reported
    bool available = true;               // false: could not be read (then `error` says why)
    std::string error;

    const NftChain* chain_by_handle(uint64_t table_handle, uint64_t chain_handle) const;
    const NftChain* chain(const std::string& family, const std::string& table, const std::string& name) const;
    // Base chains that run at an IPv4 (kNfprotoIpv4) or IPv6 hook: ip/ip6 tables and inet ones.
    std::vector<const NftChain*> base_chains(uint8_t pf, NfHook hook) const;
};

} // namespace wgbpf
