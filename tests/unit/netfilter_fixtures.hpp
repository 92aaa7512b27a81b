#pragma once
// The seed article's nftables ruleset and builders for netfilter events, for the netfilter unit tests.
#include <string>
#include <vector>

#include "config/nft_ruleset.hpp"
#include "netfilter/bracket_plan.hpp"

namespace wgbpf::test {

constexpr uint32_t kSeedNetns = 4026532300u;

inline NftChain nft_chain(std::string family, std::string table, std::string name, uint64_t table_handle,
                          uint64_t handle, std::vector<std::string> rules = {}) {
    NftChain c;
    c.family = std::move(family);
    c.table = std::move(table);
    c.name = std::move(name);
    c.table_handle = table_handle;
    c.handle = handle;
    uint64_t rule_handle = handle * 10;
    for (std::string& text : rules) c.rules.push_back({++rule_handle, std::move(text), ""});
    return c;
}

inline NftChain base_chain(std::string family, std::string table, std::string name, NfHook hook, int32_t priority,
                           uint64_t table_handle, uint64_t handle, std::vector<std::string> rules = {},
                           std::string type = "filter", std::string policy = "accept") {
    NftChain c =
        nft_chain(std::move(family), std::move(table), std::move(name), table_handle, handle, std::move(rules));
    c.base = true;
    c.type = std::move(type);
    c.hook = hook;
    c.hook_text = std::string(hook_name(hook));
    c.priority = priority;
    c.policy = std::move(policy);
    return c;
}

// `nft list ruleset` on the seed article's WireGuard client.
inline NftRuleset seed_ruleset() {
    NftRuleset r;
    r.tables = {{"inet", "filter", 1, 0}, {"ip", "wg-quick-wg0", 2, 0}};
    r.chains = {
        nft_chain("inet", "filter", "global", 1, 1, {"ct state established,related accept", "ct state invalid drop"}),
        base_chain("inet", "filter", "input", NfHook::input, 0, 1, 2,
                   {"iif \"lo\" accept", "jump global",
                    "icmp type { echo-reply, destination-unreachable, echo-request, time-exceeded } accept"},
                   "filter", "drop"),
        base_chain("inet", "filter", "output", NfHook::output, 0, 1, 3),
        base_chain("inet", "filter", "forward", NfHook::forward, 0, 1, 4, {}, "filter", "drop"),
        base_chain("ip", "wg-quick-wg0", "preraw", NfHook::prerouting, -300, 2, 1,
                   {"iifname != \"wg0\" ip daddr 10.0.0.1 fib saddr type != local drop"}),
        base_chain("ip", "wg-quick-wg0", "premangle", NfHook::prerouting, -150, 2, 2,
                   {"meta l4proto udp meta mark set ct mark"}),
        base_chain("ip", "wg-quick-wg0", "postmangle", NfHook::postrouting, -150, 2, 3,
                   {"meta l4proto udp meta mark 0x0000ca6c ct mark set meta mark"}),
    };
    return r;
}

// The seed plan's bracket numbers (see test_bracket_plan.cpp).
constexpr uint32_t kPreBefore = 0, kPreMid = 1, kPreAfter = 2; // ipv4 prerouting: -301, -299, -149
constexpr uint32_t kInBefore = 3, kInAfter = 4;                // ipv4 input: -1, 1
constexpr uint32_t kOutBefore = 7, kOutAfter = 8;              // ipv4 output: -1, 1
constexpr uint32_t kPostBefore = 9, kPostAfter = 10;           // ipv4 postrouting: -151, -149

} // namespace wgbpf::test
