// NftRuleset lookups: chains by handle and name, and the base chains that run at a hook, in order.
#include <catch2/catch_test_macros.hpp>

#include <optional>
#include <string>
#include <vector>

#include "config/nft_ruleset.hpp"

using namespace wgbpf;

namespace {

NftChain chain(const char* family, const char* table, uint64_t table_handle, const char* name, uint64_t handle) {
    NftChain c;
    c.family = family;
    c.table = table;
    c.table_handle = table_handle;
    c.name = name;
    c.handle = handle;
    return c;
}

NftChain base(const char* family, const char* table, uint64_t table_handle, const char* name, uint64_t handle,
              const char* hook_text, std::optional<NfHook> hook, int32_t priority) {
    NftChain c = chain(family, table, table_handle, name, handle);
    c.base = true;
    c.type = "filter";
    c.hook = hook;
    c.hook_text = hook_text;
    c.priority = priority;
    c.policy = "accept";
    return c;
}

std::vector<std::string> names(const std::vector<const NftChain*>& chains) {
    std::vector<std::string> out;
    for (const NftChain* c : chains) out.push_back(c->qualified());
    return out;
}

// Tables: inet filter (1), ip nat4 (2), ip6 raw6 (3), ip sleepy (4, dormant), netdev nd (5), arp a (6),
// inet late (7, created after the others).
NftRuleset sample() {
    NftRuleset rs;
    rs.tables = {{"inet", "filter", 1, 0}, {"ip", "nat4", 2, 0}, {"ip6", "raw6", 3, 0}, {"ip", "sleepy", 4, 1},
                 {"netdev", "nd", 5, 0},   {"arp", "a", 6, 0},   {"inet", "late", 7, 2}};
    rs.chains = {
        base("inet", "filter", 1, "input", 1, "input", NfHook::input, 0),
        chain("inet", "filter", 1, "helper", 2),
        base("inet", "filter", 1, "pre", 3, "prerouting", NfHook::prerouting, -150),
        base("ip", "nat4", 2, "dnat", 1, "prerouting", NfHook::prerouting, -100),
        base("ip", "nat4", 2, "early", 2, "prerouting", NfHook::prerouting, -300),
        base("ip6", "raw6", 3, "raw", 1, "prerouting", NfHook::prerouting, -300),
        base("ip", "sleepy", 4, "pre", 1, "prerouting", NfHook::prerouting, -200),
        base("netdev", "nd", 5, "ing", 1, "ingress", std::nullopt, -500),
        base("arp", "a", 6, "in", 1, "input", std::nullopt, 0),
        base("inet", "late", 7, "pre", 1, "prerouting", NfHook::prerouting, -150),
    };
    rs.chains[1].rules = {{10, "ct state established accept", ""}, {11, "accept", "all"}};
    return rs;
}

} // namespace

TEST_CASE("nft chain names and rule lookup", "[nft]") {
    NftRuleset rs = sample();
    const NftChain* helper = rs.chain("inet", "filter", "helper");
    REQUIRE(helper != nullptr);
    CHECK(helper->qualified() == "inet filter helper");
    REQUIRE(helper->rule(11) != nullptr);
    CHECK(helper->rule(11)->comment == "all");
    CHECK(helper->rule(10)->text == "ct state established accept");
    CHECK(helper->rule(12) == nullptr);

    CHECK(rs.chain("ip", "filter", "helper") == nullptr); // family matters
    CHECK(rs.chain("inet", "filter", "nope") == nullptr);
}

TEST_CASE("nft chains by table and chain handle", "[nft]") {
    NftRuleset rs = sample();
    // Chain handles repeat across tables; the table handle tells them apart.
    REQUIRE(rs.chain_by_handle(2, 1) != nullptr);
    CHECK(rs.chain_by_handle(2, 1)->qualified() == "ip nat4 dnat");
    CHECK(rs.chain_by_handle(3, 1)->qualified() == "ip6 raw6 raw");
    CHECK(rs.chain_by_handle(1, 3)->qualified() == "inet filter pre");
    CHECK(rs.chain_by_handle(1, 9) == nullptr);
    CHECK(rs.chain_by_handle(9, 1) == nullptr);
}

TEST_CASE("nft base chains at a hook: family, dormant tables, priority order", "[nft]") {
    NftRuleset rs = sample();
    // ip and inet tables at IPv4, sorted by priority; equal priorities: the later table first.
    CHECK(names(rs.base_chains(kNfprotoIpv4, NfHook::prerouting)) ==
          std::vector<std::string>{"ip nat4 early", "inet late pre", "inet filter pre", "ip nat4 dnat"});
    CHECK(names(rs.base_chains(kNfprotoIpv6, NfHook::prerouting)) ==
          std::vector<std::string>{"ip6 raw6 raw", "inet late pre", "inet filter pre"});
    // arp's input hook is not the IPv4 one.
    CHECK(names(rs.base_chains(kNfprotoIpv4, NfHook::input)) == std::vector<std::string>{"inet filter input"});
    CHECK(rs.base_chains(kNfprotoIpv4, NfHook::forward).empty());
    CHECK(rs.base_chains(kNfprotoArp, NfHook::input).empty());
}
