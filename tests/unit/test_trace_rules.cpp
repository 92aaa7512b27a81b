// Which packets the trace table marks: the watched scope, hook by hook, and nothing else.
#include <catch2/catch_test_macros.hpp>

#include "nftrace/trace_rules.hpp"
#include "nftrace/trace_table_name.hpp"

using namespace wgbpf;

namespace {

std::vector<std::string> texts(const TraceChainPlan& chain) {
    std::vector<std::string> out;
    for (const TraceRule& r : chain.rules) out.push_back(r.text());
    return out;
}

const TraceChainPlan& chain_at(const std::vector<TraceChainPlan>& plan, NfHook hook) {
    for (const TraceChainPlan& c : plan)
        if (c.hook == hook) return c;
    FAIL("no chain at " << hook_name(hook));
    throw;
}

WgInterface seed_wireguard() {
    WgInterface wg;
    wg.name = "wg0";
    wg.listen_port = 51820;
    wg.fwmark = 0xca6c;
    wg.peers.push_back({"key1", WgEndpoint{*IpAddress::parse("203.0.113.123"), 51820}, {}});
    wg.peers.push_back({"key2", std::nullopt, {}}); // no endpoint yet: nothing to match
    wg.peers.push_back({"key3", WgEndpoint{*IpAddress::parse("2001:db8::7"), 4500}, {}});
    return wg;
}

} // namespace

TEST_CASE("without a scope every packet is traced, at every inet hook, at the lowest priority") {
    auto plan = plan_trace_chains({});
    REQUIRE(plan.size() == 5);
    for (const TraceChainPlan& c : plan) CHECK(texts(c) == std::vector<std::string>{"meta nftrace set 1"});
    CHECK(kTraceChainPriority == INT32_MIN);
}

TEST_CASE("an interface is matched by name where the hook knows it") {
    auto plan = plan_trace_chains({"wg0", std::nullopt});
    CHECK(texts(chain_at(plan, NfHook::prerouting)) == std::vector<std::string>{"iifname \"wg0\" meta nftrace set 1"});
    CHECK(texts(chain_at(plan, NfHook::input)) == std::vector<std::string>{"iifname \"wg0\" meta nftrace set 1"});
    CHECK(texts(chain_at(plan, NfHook::forward)) ==
          std::vector<std::string>{"iifname \"wg0\" meta nftrace set 1", "oifname \"wg0\" meta nftrace set 1"});
    CHECK(texts(chain_at(plan, NfHook::output)) == std::vector<std::string>{"oifname \"wg0\" meta nftrace set 1"});
    CHECK(texts(chain_at(plan, NfHook::postrouting)) == std::vector<std::string>{"oifname \"wg0\" meta nftrace set 1"});
}

TEST_CASE("a WireGuard interface's outer packets are traced too: fwmark, listen port, peer endpoints") {
    auto plan = plan_trace_chains({"wg0", seed_wireguard()});
    CHECK(texts(chain_at(plan, NfHook::output)) ==
          std::vector<std::string>{
              "oifname \"wg0\" meta nftrace set 1",
              "meta mark 0x0000ca6c meta nftrace set 1",
              "meta l4proto udp th sport 51820 meta nftrace set 1",
              "meta l4proto udp th dport 51820 meta nftrace set 1",
              "meta nfproto ipv4 meta l4proto udp ip daddr 203.0.113.123 th dport 51820 meta nftrace set 1",
              "meta nfproto ipv4 meta l4proto udp ip saddr 203.0.113.123 th sport 51820 meta nftrace set 1",
              "meta nfproto ipv6 meta l4proto udp ip6 daddr 2001:db8::7 th dport 4500 meta nftrace set 1",
              "meta nfproto ipv6 meta l4proto udp ip6 saddr 2001:db8::7 th sport 4500 meta nftrace set 1",
          });
}

TEST_CASE("a WireGuard interface without fwmark or listen port gets no rule for them") {
    WgInterface wg;
    wg.name = "wg1";
    auto plan = plan_trace_chains({"wg1", wg});
    CHECK(texts(chain_at(plan, NfHook::prerouting)) == std::vector<std::string>{"iifname \"wg1\" meta nftrace set 1"});
}

TEST_CASE("wgbpf's trace tables are recognised and left out of the user's ruleset") {
    CHECK(trace_table_name(4242) == "wgbpf_trace_4242");
    CHECK(is_wgbpf_trace_table("wgbpf_trace_1"));
    CHECK_FALSE(is_wgbpf_trace_table("filter"));
    NftRuleset rs;
    rs.tables = {{"inet", "filter", 1, 0}, {"inet", "wgbpf_trace_77", 2, 2}, {"ip", "wgbpf_trace_77", 3, 0}};
    NftChain user;
    user.family = "inet";
    user.table = "filter";
    user.name = "output";
    NftChain ours = user;
    ours.table = "wgbpf_trace_77";
    rs.chains = {user, ours};
    remove_wgbpf_trace_tables(rs);
    REQUIRE(rs.tables.size() == 2); // an ip table of that name is not one wgbpf makes
    CHECK(rs.tables[0].name == "filter");
    CHECK(rs.tables[1].family == "ip");
    REQUIRE(rs.chains.size() == 1);
    CHECK(rs.chains[0].table == "filter");
}
