#include <catch2/catch_test_macros.hpp>

#include <algorithm>

#include "route_fixtures.hpp"
#include "route/walk_grouper.hpp"

using namespace wgbpf;
using namespace wgbpf::test;

namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kIdle = 20 * kMs;

// A grouper over one namespace's snapshot that collects what it emits.
struct Harness {
    NetnsConfig cfg = seed_config();
    std::vector<RouteDecision> out;
    WalkGrouper grouper{[this](uint32_t netns) { return netns == cfg.netns_inode ? &cfg : nullptr; },
                        [this](RouteDecision&& d) { out.push_back(std::move(d)); }, kIdle};

    void add(std::initializer_list<RouteLookup> lookups) {
        for (const RouteLookup& l : lookups) grouper.add(l);
    }
};

bool has_note(const RouteDecision& d, std::string_view text) {
    return std::any_of(d.notes.begin(), d.notes.end(),
                       [&](const std::string& n) { return n.find(text) != std::string::npos; });
}

Flow echo() { return output_flow("0.0.0.0", "198.51.100.9"); }
Flow outer_udp() { return output_flow("0.0.0.0", "203.0.113.123", kWgMark); }
Flow outer_reply() { return input_flow("203.0.113.123", "192.168.178.48", kC0, kWgMark); }
Flow reverse_check() { return reverse_flow("192.168.178.48", "203.0.113.123", kWgMark); }

RuleResult rule_result(RuleResult::What what, uint32_t pref, uint32_t table, uint32_t cpu = 0) {
    RuleResult r;
    r.what = what;
    r.pref = pref;
    r.table = table;
    r.cpu = cpu;
    r.netns = seed_config().netns_inode;
    return r;
}

} // namespace

TEST_CASE("grouper: the seed sequence becomes four decisions as it happens", "[route][grouper]") {
    Harness h;
    Flow e = echo(), u = outer_udp(), r = outer_reply(), v = reverse_check();
    h.add({e.miss(255, 1), e.hit(254, kC0, "192.168.178.1", 2)});
    CHECK(h.out.empty());
    h.add({e.hit(kWgTable, kWg0, "", 3)});
    REQUIRE(h.out.size() == 1);
    h.add({u.miss(255, 10), u.hit(254, kC0, "192.168.178.1", 11), u.hit(254, kC0, "192.168.178.1", 12)});
    h.add({r.hit(255, kC0, "", 20)});
    h.add({v.miss(255, 21), v.hit(254, kC0, "192.168.178.1", 22), v.hit(254, kC0, "192.168.178.1", 23)});

    REQUIRE(h.out.size() == 4);
    CHECK(h.grouper.open_walks() == 0);
    CHECK(h.out[0].rule == 32765u);
    CHECK(h.out[0].result_oif == "wg0");
    CHECK(h.out[0].lookups.size() == 3);
    CHECK(h.out[1].rule == 32766u);
    CHECK(h.out[1].skipped.size() == 1);
    CHECK(h.out[2].rule == 0u);
    CHECK(h.out[2].route_type == RouteType::local);
    CHECK(h.out[3].rule == 32766u);
    CHECK(h.out[3].direction == RouteDirection::reverse);
    for (const RouteDecision& d : h.out) {
        CHECK(d.complete);
        CHECK(d.notes.empty());
    }
    CHECK(h.out[0].t_ns == 1);
}

TEST_CASE("grouper: walks on different CPUs interleave", "[route][grouper]") {
    Harness h;
    Flow e = echo().on_cpu(0);
    Flow u = outer_udp().on_cpu(1);
    h.add({e.miss(255, 1), u.miss(255, 2), e.hit(254, kC0, "192.168.178.1", 3), u.hit(254, kC0, "192.168.178.1", 4)});
    CHECK(h.grouper.open_walks() == 2);
    h.add({u.hit(254, kC0, "192.168.178.1", 5), e.hit(kWgTable, kWg0, "", 6)});

    REQUIRE(h.out.size() == 2);
    CHECK(h.out[0].cpu == 1);
    CHECK(h.out[0].rule == 32766u);
    CHECK(h.out[0].lookups.size() == 3);
    CHECK(h.out[1].cpu == 0);
    CHECK(h.out[1].rule == 32765u);
    CHECK(h.out[1].lookups.size() == 3);
    CHECK(h.grouper.open_walks() == 0);
}

TEST_CASE("grouper: the same flow on two CPUs makes two walks", "[route][grouper]") {
    Harness h;
    Flow a = echo().on_cpu(0);
    Flow b = echo().on_cpu(1);
    h.add({a.miss(255, 1), b.miss(255, 2), a.hit(254, kC0, "192.168.178.1", 3), b.hit(254, kC0, "192.168.178.1", 4),
           a.hit(kWgTable, kWg0, "", 5), b.hit(kWgTable, kWg0, "", 6)});
    REQUIRE(h.out.size() == 2);
    CHECK(h.out[0].rule == 32765u);
    CHECK(h.out[1].rule == 32765u);
    CHECK(h.out[0].cpu == 0);
    CHECK(h.out[1].cpu == 1);
}

TEST_CASE("grouper: a softirq walk inside a process-context walk on one CPU", "[route][grouper]") {
    Harness h;
    Flow e = echo();
    Flow r = outer_reply();
    Flow v = reverse_check();
    h.add({e.miss(255, 1), e.hit(254, kC0, "192.168.178.1", 2)});
    // The reply arrives on this CPU in between: its input and reverse-path walks run to the end.
    h.add({r.hit(255, kC0, "", 3), v.miss(255, 4), v.hit(254, kC0, "192.168.178.1", 5)});
    CHECK(h.out.size() == 1);
    h.add({v.hit(254, kC0, "192.168.178.1", 6)});
    CHECK(h.out.size() == 2);
    CHECK(h.grouper.open_walks() == 1); // the echo request is still waiting for its last lookup
    h.add({e.hit(kWgTable, kWg0, "", 7)});

    REQUIRE(h.out.size() == 3);
    CHECK(h.out[0].direction == RouteDirection::input);
    CHECK(h.out[1].direction == RouteDirection::reverse);
    CHECK(h.out[1].rule == 32766u);
    CHECK(h.out[2].direction == RouteDirection::output);
    CHECK(h.out[2].rule == 32765u);
    CHECK(h.out[2].lookups.size() == 3);
    CHECK(h.out[2].complete);
}

TEST_CASE("grouper: an idle walk is finished by flush", "[route][grouper]") {
    Harness h;
    Flow e = echo();
    h.add({e.miss(255, 100 * kMs), e.hit(254, kC0, "192.168.178.1", 101 * kMs)});
    h.grouper.flush(101 * kMs + kIdle - 1);
    CHECK(h.out.empty());
    CHECK(h.grouper.open_walks() == 1);
    h.grouper.flush(101 * kMs + kIdle);
    REQUIRE(h.out.size() == 1);
    CHECK_FALSE(h.out[0].complete);
    CHECK(h.out[0].lookups.size() == 2);
    CHECK(h.out[0].result == LookupResult::none);
    CHECK(h.grouper.open_walks() == 0);
}

TEST_CASE("grouper: flush emits the oldest walks first", "[route][grouper]") {
    Harness h;
    Flow late = echo().on_cpu(0);
    Flow early = outer_udp().on_cpu(3);
    h.add({early.miss(255, 5), late.miss(255, 9)});
    h.grouper.flush_all();
    REQUIRE(h.out.size() == 2);
    CHECK(h.out[0].t_ns == 5);
    CHECK(h.out[1].t_ns == 9);
    CHECK(h.grouper.open_walks() == 0);
}

TEST_CASE("grouper: an unknown namespace still gets decisions", "[route][grouper]") {
    Harness h;
    Flow f = output_flow("0.0.0.0", "9.9.9.9").in_netns(42);
    h.add({f.miss(255, 1), f.hit(254, kC0, "", 2)});
    REQUIRE(h.out.size() == 1);
    const RouteDecision& d = h.out[0];
    REQUIRE_FALSE(d.notes.empty());
    CHECK(d.notes[0] == "no configuration snapshot for netns 42");
    CHECK(d.rule == 32766u); // the kernel's default rules, assumed
    CHECK(d.result == LookupResult::hit);
    CHECK(d.result_oif == "if2");
    CHECK(d.netns == 42);
}

TEST_CASE("grouper: without a config lookup at all", "[route][grouper]") {
    std::vector<RouteDecision> out;
    WalkGrouper grouper(nullptr, [&](RouteDecision&& d) { out.push_back(std::move(d)); });
    Flow f = output_flow("0.0.0.0", "9.9.9.9").in_netns(7);
    grouper.add(f.hit(254, kC0, "", 1));
    REQUIRE(out.size() == 1);
    CHECK(out[0].fast_path);
    CHECK(out[0].notes[0] == "no configuration snapshot for netns 7");
}

TEST_CASE("grouper: a lost last lookup does not glue two walks together", "[route][grouper]") {
    Harness h;
    Flow e = echo();
    // The first echo's table 51820 lookup was lost; the next echo's walk starts with local again.
    h.add({e.miss(255, 1), e.hit(254, kC0, "192.168.178.1", 2)});
    h.add({e.miss(255, 1000), e.hit(254, kC0, "192.168.178.1", 1001), e.hit(kWgTable, kWg0, "", 1002)});

    REQUIRE(h.out.size() == 2);
    CHECK_FALSE(h.out[0].complete);
    CHECK(h.out[0].lookups.size() == 2);
    CHECK(h.out[1].complete);
    CHECK(h.out[1].lookups.size() == 3);
    CHECK(h.out[1].rule == 32765u);
    CHECK(h.out[1].t_ns == 1000);
}

TEST_CASE("grouper: a snapshot that explains nothing yields decisions with notes", "[route][grouper]") {
    Harness h;
    h.cfg.rules.erase(h.cfg.rules.begin() + 3, h.cfg.rules.end()); // stale: no wg-quick rules
    Flow e = echo();
    h.add({e.miss(255, 1), e.hit(254, kC0, "192.168.178.1", 2), e.hit(kWgTable, kWg0, "", 3)});
    h.grouper.flush_all();
    REQUIRE_FALSE(h.out.empty());
    const RouteDecision& last = h.out.back();
    CHECK(last.result_oif == "wg0");
    CHECK(has_note(last, "ruleset snapshot does not explain lookup of table 51820"));
    CHECK(h.grouper.open_walks() == 0);
}

TEST_CASE("grouper: a lookup of an unknown table stays in its walk", "[route][grouper]") {
    Harness h;
    Flow e = echo();
    h.add({e.miss(255, 1), e.miss(777, 2), e.hit(254, kC0, "192.168.178.1", 3), e.hit(kWgTable, kWg0, "", 4)});
    REQUIRE(h.out.size() == 1);
    CHECK(h.out[0].lookups.size() == 4);
    CHECK(h.out[0].rule == 32765u);
    CHECK(has_note(h.out[0], "ruleset snapshot does not explain lookup of table 777"));
}

TEST_CASE("grouper: with kernel rule results, walks end on the kernel's verdict", "[route][grouper][exact]") {
    Harness h;
    Flow u = outer_udp();
    h.grouper.add(rule_result(RuleResult::What::decided, 0, 255)); // fexit works here; nothing open yet
    h.add({u.miss(255, 1), u.hit(254, kC0, "192.168.178.1", 2)});
    h.grouper.add(rule_result(RuleResult::What::suppressed, 32764, 254));
    h.add({u.hit(254, kC0, "192.168.178.1", 3)});
    CHECK(h.out.empty()); // complete per the snapshot, held for the verdict
    h.grouper.add(rule_result(RuleResult::What::decided, 32766, 254));

    REQUIRE(h.out.size() == 1);
    CHECK(h.out[0].exact);
    CHECK(h.out[0].rule == 32766u);
    CHECK(h.out[0].lookups[1].result == LookupResult::suppressed);
    CHECK(h.grouper.open_walks() == 0);
}

TEST_CASE("grouper: the kernel says suppressed where the snapshot does not", "[route][grouper][exact]") {
    Harness h;
    h.cfg.rules[3].suppress_prefixlen = -1; // the snapshot lost rule 32764's option
    Flow u = outer_udp();
    h.grouper.add(rule_result(RuleResult::What::decided, 0, 255, 5)); // exact mode, another CPU
    h.add({u.miss(255, 1), u.hit(254, kC0, "192.168.178.1", 2)});
    CHECK(h.out.empty()); // per the snapshot 32764 decided, but the kernel has not said so
    h.grouper.add(rule_result(RuleResult::What::suppressed, 32764, 254));
    h.add({u.hit(254, kC0, "192.168.178.1", 3)});
    h.grouper.add(rule_result(RuleResult::What::decided, 32766, 254));

    REQUIRE(h.out.size() == 1);
    CHECK(h.out[0].lookups.size() == 3);
    CHECK(h.out[0].lookups[1].result == LookupResult::suppressed);
    CHECK(h.out[0].rule == 32766u);
}

TEST_CASE("grouper: fast-path walks do not wait for a verdict", "[route][grouper][exact]") {
    Harness h;
    h.cfg.rules.erase(h.cfg.rules.begin() + 3, h.cfg.rules.end());
    h.grouper.add(rule_result(RuleResult::What::decided, 0, 255));
    Flow f = output_flow("0.0.0.0", "9.9.9.9");
    h.add({f.hit(254, kC0, "192.168.178.1", 1)});
    REQUIRE(h.out.size() == 1);
    CHECK(h.out[0].fast_path);
}

TEST_CASE("grouper: held walks are flushed when the verdict never comes", "[route][grouper][exact]") {
    Harness h;
    h.grouper.add(rule_result(RuleResult::What::decided, 0, 255));
    Flow r = outer_reply();
    h.add({r.hit(255, kC0, "", 1)});
    CHECK(h.out.empty());
    h.grouper.flush(1 + kIdle);
    REQUIRE(h.out.size() == 1);
    CHECK(h.out[0].rule == 0u);
    CHECK(h.out[0].complete);
}
