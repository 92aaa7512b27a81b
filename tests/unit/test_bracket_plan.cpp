#include <catch2/catch_test_macros.hpp>

#include <climits>
#include <set>
#include <tuple>

#include "netfilter_fixtures.hpp"
#include "netfilter/bracket_plan.hpp"

using namespace wgbpf;
using namespace wgbpf::test;

namespace {

// The priorities of one hook point's brackets, in order.
std::vector<int32_t> priorities(const BracketPlan& plan, uint8_t pf, NfHook hook) {
    std::vector<int32_t> out;
    for (const Bracket& b : plan.brackets)
        if (b.pf == pf && b.hook == hook) out.push_back(b.priority);
    return out;
}

// The chains of the span after bracket `index`, as "family table chain".
std::vector<std::string> span_chains(const BracketPlan& plan, uint32_t index) {
    std::vector<std::string> out;
    if (const BracketSpan* s = plan.span_after(index))
        for (const auto& m : s->members) out.push_back(m.family + " " + m.table + " " + m.chain);
    return out;
}

uint32_t first_bracket(const BracketPlan& plan, uint8_t pf, NfHook hook) {
    for (uint32_t i = 0; i < plan.brackets.size(); ++i)
        if (plan.brackets[i].pf == pf && plan.brackets[i].hook == hook) return i;
    FAIL("no bracket for that hook point");
    return 0;
}

bool has_note(const BracketPlan& plan, const std::string& part) {
    for (const std::string& n : plan.notes)
        if (n.find(part) != std::string::npos) return true;
    return false;
}

// Invariants every plan keeps: no INT_MIN/INT_MAX, no two brackets at one (pf, hook, priority), spans link
// neighbours of one hook point, at most kMaxBrackets.
void check_invariants(const BracketPlan& plan) {
    std::set<std::tuple<uint8_t, NfHook, int32_t>> seen;
    for (const Bracket& b : plan.brackets) {
        CHECK(b.priority != INT_MIN);
        CHECK(b.priority != INT_MAX);
        CHECK(seen.insert({b.pf, b.hook, b.priority}).second);
    }
    CHECK(plan.brackets.size() <= kMaxBrackets);
    for (const BracketSpan& s : plan.spans) {
        REQUIRE(s.after < plan.brackets.size());
        CHECK(s.after == s.before + 1);
        CHECK(plan.brackets[s.before].pf == plan.brackets[s.after].pf);
        CHECK(plan.brackets[s.before].hook == plan.brackets[s.after].hook);
        CHECK(plan.brackets[s.before].priority < plan.brackets[s.after].priority);
        for (const auto& m : s.members) {
            CHECK(m.priority > plan.brackets[s.before].priority);
            CHECK(m.priority < plan.brackets[s.after].priority);
        }
    }
}

NftRuleset one_hook(std::vector<int32_t> prios, NfHook hook = NfHook::output, std::string family = "ip") {
    NftRuleset r;
    r.tables = {{family, "t", 1, 0}};
    uint64_t handle = 1;
    for (int32_t p : prios) {
        r.chains.push_back(base_chain(family, "t", "c" + std::to_string(handle), hook, p, 1, handle));
        ++handle;
    }
    return r;
}

} // namespace

TEST_CASE("the seed ruleset is bracketed just before each chain and after the last") {
    BracketPlan plan = plan_brackets(seed_ruleset(), 7);
    check_invariants(plan);
    CHECK(plan.generation == 7);
    CHECK(plan.notes.empty());

    // Just before each chain: conntrack (-200) runs in preraw's span, so premangle's entering bracket (-151)
    // sees the connection as premangle does.
    CHECK(priorities(plan, kNfprotoIpv4, NfHook::prerouting) == std::vector<int32_t>{-301, -151, -149});
    CHECK(priorities(plan, kNfprotoIpv4, NfHook::input) == std::vector<int32_t>{-1, 1});
    CHECK(priorities(plan, kNfprotoIpv4, NfHook::forward) == std::vector<int32_t>{-1, 1});
    CHECK(priorities(plan, kNfprotoIpv4, NfHook::output) == std::vector<int32_t>{-1, 1});
    CHECK(priorities(plan, kNfprotoIpv4, NfHook::postrouting) == std::vector<int32_t>{-151, -149});
    // IPv6: only the inet table's chains; wg-quick-wg0 is an ip table.
    CHECK(priorities(plan, kNfprotoIpv6, NfHook::prerouting).empty());
    CHECK(priorities(plan, kNfprotoIpv6, NfHook::postrouting).empty());
    CHECK(priorities(plan, kNfprotoIpv6, NfHook::input) == std::vector<int32_t>{-1, 1});
    CHECK(priorities(plan, kNfprotoIpv6, NfHook::output) == std::vector<int32_t>{-1, 1});
    CHECK(plan.brackets.size() == 17);
    CHECK(plan.spans.size() == 9);

    // Numbered in order of creation: ipv4 first, hooks in kernel order, priorities ascending.
    CHECK(plan.brackets[kPreBefore].priority == -301);
    CHECK(plan.brackets[kPreMid].priority == -151);
    CHECK(plan.brackets[kInBefore].hook == NfHook::input);
    CHECK(plan.brackets[kOutBefore].hook == NfHook::output);
    CHECK(plan.brackets[kPostBefore].hook == NfHook::postrouting);
    CHECK(span_chains(plan, kPreBefore) == std::vector<std::string>{"ip wg-quick-wg0 preraw"});
    CHECK(span_chains(plan, kPreMid) == std::vector<std::string>{"ip wg-quick-wg0 premangle"});
    CHECK(span_chains(plan, kInBefore) == std::vector<std::string>{"inet filter input"});
    CHECK(span_chains(plan, kPostBefore) == std::vector<std::string>{"ip wg-quick-wg0 postmangle"});
    CHECK(plan.span_after(kPreBefore)->after == kPreMid);

    // The last bracket of a hook point opens no span.
    CHECK(plan.span_after(kPreAfter) == nullptr);
    CHECK(plan.span_after(kPostAfter) == nullptr);
    CHECK(plan.span_after(99) == nullptr);
}

TEST_CASE("chains at one priority share a span, across ip and inet tables") {
    NftRuleset r = seed_ruleset();
    r.tables.push_back({"ip", "extra", 3, 0});
    r.chains.push_back(base_chain("ip", "extra", "out", NfHook::output, 0, 3, 1));
    BracketPlan plan = plan_brackets(r, 1);
    check_invariants(plan);
    CHECK(priorities(plan, kNfprotoIpv4, NfHook::output) == std::vector<int32_t>{-1, 1});
    uint32_t v4 = first_bracket(plan, kNfprotoIpv4, NfHook::output);
    CHECK(span_chains(plan, v4).size() == 2);
    // IPv6 output: the ip table does not run there.
    uint32_t v6 = first_bracket(plan, kNfprotoIpv6, NfHook::output);
    CHECK(span_chains(plan, v6) == std::vector<std::string>{"inet filter output"});
}

TEST_CASE("neighbouring priorities leave no room between them: one span") {
    BracketPlan adjacent = plan_brackets(one_hook({0, 1}), 1);
    check_invariants(adjacent);
    CHECK(priorities(adjacent, kNfprotoIpv4, NfHook::output) == std::vector<int32_t>{-1, 2});
    CHECK(span_chains(adjacent, 0) == std::vector<std::string>{"ip t c1", "ip t c2"});

    BracketPlan gap = plan_brackets(one_hook({0, 2}), 1);
    check_invariants(gap);
    CHECK(priorities(gap, kNfprotoIpv4, NfHook::output) == std::vector<int32_t>{-1, 1, 3});
    CHECK(span_chains(gap, 0) == std::vector<std::string>{"ip t c1"});
    CHECK(span_chains(gap, 1) == std::vector<std::string>{"ip t c2"});

    // Members are listed in priority order whatever the ruleset order.
    BracketPlan reversed = plan_brackets(one_hook({5, 4, 100}), 1);
    CHECK(priorities(reversed, kNfprotoIpv4, NfHook::output) == std::vector<int32_t>{3, 99, 101});
    CHECK(span_chains(reversed, 0) == std::vector<std::string>{"ip t c2", "ip t c1"});
}

TEST_CASE("no bracket at INT_MIN or INT_MAX: chains at the edges are not observed, and say so") {
    BracketPlan low = plan_brackets(one_hook({INT_MIN, 0}), 1);
    check_invariants(low);
    CHECK(priorities(low, kNfprotoIpv4, NfHook::output) == std::vector<int32_t>{-1, 1});
    CHECK(span_chains(low, 0) == std::vector<std::string>{"ip t c2"});
    CHECK(has_note(low, "ip t c1 (priority -2147483648)"));

    BracketPlan almost_low = plan_brackets(one_hook({INT_MIN + 1, 0}), 1); // INT_MIN + 1 - 1 is refused
    check_invariants(almost_low);
    CHECK(priorities(almost_low, kNfprotoIpv4, NfHook::output) == std::vector<int32_t>{-1, 1});
    CHECK(has_note(almost_low, "ip t c1"));

    BracketPlan high = plan_brackets(one_hook({0, INT_MAX - 1}), 1);
    check_invariants(high);
    CHECK(priorities(high, kNfprotoIpv4, NfHook::output) == std::vector<int32_t>{-1, INT_MAX - 2});
    CHECK(has_note(high, "ip t c2 (priority 2147483646)"));

    BracketPlan both = plan_brackets(one_hook({INT_MIN, INT_MAX}), 1);
    check_invariants(both);
    CHECK(both.brackets.empty()); // one bracket (INT_MIN + 1) would bracket nothing
    CHECK(has_note(both, "ip t c1"));
    CHECK(has_note(both, "ip t c2"));

    // A single chain with no room on one side cannot be bracketed at all: no brackets for that hook.
    BracketPlan alone = plan_brackets(one_hook({INT_MAX}), 1);
    check_invariants(alone);
    CHECK(alone.brackets.empty());
    CHECK(has_note(alone, "not observed"));
}

TEST_CASE("a changed ruleset is a new generation with its own brackets") {
    NftRuleset r = seed_ruleset();
    BracketPlan before = plan_brackets(r, 1);
    r.chains.push_back(base_chain("ip", "wg-quick-wg0", "prenat", NfHook::prerouting, -200, 2, 9));
    BracketPlan added = plan_brackets(r, 2);
    check_invariants(added);
    CHECK(added.generation == 2);
    CHECK(priorities(added, kNfprotoIpv4, NfHook::prerouting) == std::vector<int32_t>{-301, -201, -151, -149});
    CHECK(added.brackets.size() == before.brackets.size() + 1);
    // Later hook points are renumbered: events of generation 1 cannot be read with this plan.
    CHECK(added.brackets[kInBefore].hook == NfHook::prerouting);

    r = seed_ruleset();
    std::erase_if(r.chains, [](const NftChain& c) { return c.name == "postmangle"; });
    BracketPlan removed = plan_brackets(r, 3);
    check_invariants(removed);
    CHECK(priorities(removed, kNfprotoIpv4, NfHook::postrouting).empty());
    CHECK(removed.brackets.size() == before.brackets.size() - 2);
}

TEST_CASE("table families decide the hook families: ip, ip6, inet; others are not bracketed") {
    NftRuleset r;
    r.tables = {{"ip6", "six", 1, 0},
                {"inet", "both", 2, 0},
                {"bridge", "br", 3, 0},
                {"netdev", "nd", 4, 0},
                {"arp", "a", 5, 0}};
    r.chains = {base_chain("ip6", "six", "pre", NfHook::prerouting, -200, 1, 1),
                base_chain("inet", "both", "pre", NfHook::prerouting, 10, 2, 1),
                base_chain("bridge", "br", "pre", NfHook::prerouting, 0, 3, 1),
                base_chain("netdev", "nd", "in", NfHook::prerouting, 0, 4, 1),
                base_chain("arp", "a", "in", NfHook::input, 0, 5, 1),
                nft_chain("ip6", "six", "regular", 1, 2, {"meta mark set 0x1"})};
    BracketPlan plan = plan_brackets(r, 1);
    check_invariants(plan);
    CHECK(priorities(plan, kNfprotoIpv4, NfHook::prerouting) == std::vector<int32_t>{9, 11});
    CHECK(priorities(plan, kNfprotoIpv6, NfHook::prerouting) == std::vector<int32_t>{-201, 9, 11});
    CHECK(priorities(plan, kNfprotoIpv4, NfHook::input).empty());
    CHECK(plan.brackets.size() == 5);
    uint32_t v6 = first_bracket(plan, kNfprotoIpv6, NfHook::prerouting);
    CHECK(span_chains(plan, v6) == std::vector<std::string>{"ip6 six pre"});
    CHECK(span_chains(plan, v6 + 1) == std::vector<std::string>{"inet both pre"});
}

TEST_CASE("dormant tables register no hooks") {
    NftRuleset r = seed_ruleset();
    r.tables[1].flags = 1; // wg-quick-wg0 dormant
    BracketPlan plan = plan_brackets(r, 1);
    CHECK(priorities(plan, kNfprotoIpv4, NfHook::prerouting).empty());
    CHECK(priorities(plan, kNfprotoIpv4, NfHook::postrouting).empty());
}

TEST_CASE("NAT chains are bracketed where the NAT hook runs them") {
    NftRuleset r;
    r.tables = {{"ip", "nat", 1, 0}};
    r.chains = {base_chain("ip", "nat", "prerouting", NfHook::prerouting, -100, 1, 1, {}, "nat"),
                base_chain("ip", "nat", "late", NfHook::prerouting, 50, 1, 2, {}, "nat"),
                base_chain("ip", "nat", "postrouting", NfHook::postrouting, 100, 1, 3, {}, "nat")};
    BracketPlan plan = plan_brackets(r, 1);
    check_invariants(plan);
    CHECK(priorities(plan, kNfprotoIpv4, NfHook::prerouting) == std::vector<int32_t>{-101, -99});
    CHECK(span_chains(plan, 0) == std::vector<std::string>{"ip nat prerouting", "ip nat late"});
    CHECK(priorities(plan, kNfprotoIpv4, NfHook::postrouting) == std::vector<int32_t>{99, 101});
    CHECK(has_note(plan, "ip nat late is a NAT chain"));
}

TEST_CASE("iptables-legacy tables are members at their fixed priorities") {
    NftRuleset r = seed_ruleset();
    r.legacy = {{kNfprotoIpv4, "mangle"}, {kNfprotoIpv4, "nat"}, {kNfprotoIpv6, "filter"}};
    BracketPlan plan = plan_brackets(r, 1);
    check_invariants(plan);
    // prerouting: nft preraw -300, legacy mangle and nft premangle -150 (shared), legacy nat -100.
    CHECK(priorities(plan, kNfprotoIpv4, NfHook::prerouting) == std::vector<int32_t>{-301, -151, -101, -99});
    uint32_t pre = first_bracket(plan, kNfprotoIpv4, NfHook::prerouting);
    CHECK(span_chains(plan, pre + 1) ==
          std::vector<std::string>{"ip wg-quick-wg0 premangle", "iptables mangle PREROUTING"});
    CHECK(plan.span_after(pre + 1)->members[1].legacy);
    CHECK(span_chains(plan, pre + 2) == std::vector<std::string>{"iptables nat PREROUTING"});
    // input: legacy mangle -150, nft filter 0, legacy nat 100.
    CHECK(priorities(plan, kNfprotoIpv4, NfHook::input) == std::vector<int32_t>{-151, -1, 99, 101});
    // forward: legacy mangle, nft filter; no nat at forward.
    CHECK(priorities(plan, kNfprotoIpv4, NfHook::forward) == std::vector<int32_t>{-151, -1, 1});
    // IPv6: legacy filter shares 0 with the inet filter chains.
    uint32_t v6in = first_bracket(plan, kNfprotoIpv6, NfHook::input);
    CHECK(span_chains(plan, v6in) == std::vector<std::string>{"inet filter input", "ip6tables filter INPUT"});
    CHECK(priorities(plan, kNfprotoIpv6, NfHook::prerouting).empty()); // ip6tables filter has no prerouting hook
}

TEST_CASE("more than kMaxBrackets: forward and then IPv6 hook points are left out, with a note") {
    NftRuleset r;
    r.tables = {{"inet", "big", 1, 0}};
    uint64_t handle = 1;
    for (NfHook hook : {NfHook::prerouting, NfHook::input, NfHook::forward, NfHook::output, NfHook::postrouting})
        for (int32_t p : {-200, 0, 200}) {
            r.chains.push_back(base_chain("inet", "big", "c" + std::to_string(handle), hook, p, 1, handle));
            ++handle;
        }
    BracketPlan plan = plan_brackets(r, 1); // 10 hook points x 4 brackets = 40
    check_invariants(plan);
    CHECK(plan.brackets.size() == 32);
    CHECK(priorities(plan, kNfprotoIpv4, NfHook::forward).empty());
    CHECK(priorities(plan, kNfprotoIpv6, NfHook::forward).empty());
    CHECK(priorities(plan, kNfprotoIpv6, NfHook::input).size() == 4);
    CHECK(has_note(plan, "ipv4 forward, ipv6 forward"));

    // A hook point that does not fit is skipped, later smaller ones still get in.
    r.tables.push_back({"ip", "more", 2, 0});
    for (int32_t p : {-250, -150, -50, 50, 150})
        r.chains.push_back(base_chain("ip", "more", "m" + std::to_string(p), NfHook::output, p, 2, ++handle));
    BracketPlan crowded = plan_brackets(r, 2);
    check_invariants(crowded);
    CHECK(priorities(crowded, kNfprotoIpv4, NfHook::output).size() == 9);
    CHECK(has_note(crowded, "ipv6 input"));
    CHECK(crowded.brackets.size() <= kMaxBrackets);
}

TEST_CASE("a priority the kernel refused moves the hook to the next free one between the same chains") {
    // The Mullvad app's prerouting chain at -199 beside conntrack at -200 (talpid-core firewall/linux.rs).
    NftRuleset r = one_hook({-199, -150}, NfHook::prerouting, "inet");
    TakenPriorities taken{{kNfprotoIpv4, NfHook::prerouting, -200}};
    BracketPlan plan = plan_brackets(r, 1, taken);
    check_invariants(plan);
    CHECK(priorities(plan, kNfprotoIpv4, NfHook::prerouting) == std::vector<int32_t>{-201, -151, -149});
    CHECK(priorities(plan, kNfprotoIpv6, NfHook::prerouting) == std::vector<int32_t>{-200, -151, -149});
    CHECK(span_chains(plan, 0) == std::vector<std::string>{"inet t c1"});
    CHECK(has_note(plan, "ipv4 prerouting: priority -200 is taken by another hook"));
    CHECK(has_note(plan, "placed at -201"));

    // No free priority left between two chains: they share one span, and say so.
    taken = {{kNfprotoIpv4, NfHook::output, 1}, {kNfprotoIpv4, NfHook::output, 2}};
    BracketPlan shared = plan_brackets(one_hook({0, 3}), 1, taken);
    check_invariants(shared);
    CHECK(priorities(shared, kNfprotoIpv4, NfHook::output) == std::vector<int32_t>{-1, 4});
    CHECK(span_chains(shared, 0) == std::vector<std::string>{"ip t c1", "ip t c2"});
    CHECK(has_note(shared, "no free priority between 0 and 3"));

    // After the last chain the hook moves up; with nothing free at one end the chain is not observed.
    taken = {{kNfprotoIpv4, NfHook::output, 1}};
    CHECK(priorities(plan_brackets(one_hook({0}), 1, taken), kNfprotoIpv4, NfHook::output) ==
          std::vector<int32_t>{-1, 2});
    taken = {{kNfprotoIpv4, NfHook::output, INT_MAX - 1}};
    BracketPlan edge = plan_brackets(one_hook({0, INT_MAX - 2}), 1, taken);
    check_invariants(edge);
    CHECK(priorities(edge, kNfprotoIpv4, NfHook::output) == std::vector<int32_t>{-1, INT_MAX - 3});
    CHECK(has_note(edge, "ip t c2 (priority 2147483645)"));
}
