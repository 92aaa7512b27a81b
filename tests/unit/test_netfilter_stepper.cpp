#include <catch2/catch_test_macros.hpp>

#include "netfilter_fixtures.hpp"
#include "nftrace/trace_table_name.hpp"
#include "netfilter/netfilter_stepper.hpp"
#include "render/netfilter_render.hpp"

using namespace wgbpf;
using namespace wgbpf::test;

namespace {

constexpr uint32_t kWgMark = 0xca6c;
constexpr uint8_t kEstablished = 0, kNew = 2, kEstablishedReply = 3;
constexpr uint64_t kIdle = 50'000'000;

PacketInfo outer_udp(uint64_t id) {
    PacketInfo p;
    p.id = id;
    p.is_ip = true;
    p.proto = 17;
    p.len = 148;
    p.has_l4 = true;
    p.sport = 51820;
    p.dport = 51820;
    p.ip_id = 0x1c46;
    p.oif = 2;
    p.src = *IpAddress::parse("192.168.178.48");
    p.dst = *IpAddress::parse("203.0.113.123");
    return p;
}

PacketInfo outer_reply(uint64_t id) {
    PacketInfo p = outer_udp(id);
    std::swap(p.src, p.dst);
    p.iif = 2;
    p.oif = 0;
    return p;
}

// Feeds events to a stepper over the seed plan and keeps what comes out.
struct Harness {
    NftRuleset ruleset = seed_ruleset();
    BracketPlan plan = plan_brackets(ruleset, 1);
    std::vector<NetfilterStep> steps;
    std::vector<DropStep> drops;
    NetfilterStepper stepper{
        [this](uint32_t netns) {
            return netns == kSeedNetns ? NetfilterContext{&ruleset, &plan} : NetfilterContext{};
        },
        [this](NetfilterStep&& s) { steps.push_back(std::move(s)); },
        [this](DropStep&& d) { drops.push_back(std::move(d)); },
        [](uint32_t reason) { return reason == 6 ? std::string("NETFILTER_DROP") : std::string("NEIGH_FAILED"); },
        [](uint64_t) { return std::string("nft_do_chain+0x3f2"); },
        kIdle};

    NfBracketEvent bracket(const PacketInfo& pkt, uint32_t index, uint64_t t_ns, uint32_t mark, uint32_t ct_mark,
                           uint8_t ct_state = kEstablished) const {
        NfBracketEvent e;
        e.t_ns = t_ns;
        e.netns = kSeedNetns;
        e.pkt = pkt;
        e.bracket = index;
        e.generation = plan.generation;
        e.hook = plan.brackets.at(index).hook;
        e.pf = plan.brackets.at(index).pf;
        e.ct_state = ct_state;
        e.mark = mark;
        e.ct_mark = ct_mark;
        return e;
    }
    void add(const NfBracketEvent& e) { stepper.add(e); }
    void drop(const PacketInfo& pkt, uint64_t t_ns, uint32_t reason) {
        DropEvent e;
        e.t_ns = t_ns;
        e.netns = kSeedNetns;
        e.pkt = pkt;
        e.location = 0xffffffff81234567;
        e.reason = reason;
        stepper.add(e);
    }
};

constexpr uint32_t kNetfilterDrop = 6, kNeighFailed = 7;

NfChainEvent chain_event(uint64_t table_handle, uint64_t chain_handle, uint32_t verdict) {
    NfChainEvent e;
    e.t_ns = 1000;
    e.netns = kSeedNetns;
    e.pkt = outer_udp(1);
    e.table_handle = table_handle;
    e.chain_handle = chain_handle;
    e.hook = NfHook::postrouting;
    e.table_family = kNfprotoIpv4;
    e.ct_state_before = e.ct_state_after = kNew;
    e.verdict = verdict;
    e.mark_before = e.mark_after = kWgMark;
    return e;
}

} // namespace

TEST_CASE("postmangle stores the WireGuard mark in conntrack (seed, outer UDP)") {
    Harness h;
    auto pkt = outer_udp(1);
    h.add(h.bracket(pkt, kPostBefore, 1000, kWgMark, 0, kNew));
    CHECK(h.steps.empty());
    h.add(h.bracket(pkt, kPostAfter, 1500, kWgMark, kWgMark, kNew));
    REQUIRE(h.steps.size() == 1);
    const NetfilterStep& s = h.steps[0];
    CHECK(s.hook == NfHook::postrouting);
    CHECK(s.family == "ip");
    CHECK(s.table == "wg-quick-wg0");
    CHECK(s.chain == "postmangle");
    CHECK(s.priority == -150);
    CHECK(s.verdict == NfVerdict::accept);
    CHECK(s.mark_before == kWgMark);
    CHECK(s.mark_after == kWgMark);
    CHECK(s.ct_mark_before == 0);
    CHECK(s.ct_mark_after == kWgMark);
    CHECK(s.ct_state == "new");
    CHECK_FALSE(s.exact);
    CHECK(s.t_ns == 1000);
    CHECK(s.netns == kSeedNetns);
    CHECK(s.rules_that_set == std::vector<std::string>{"meta l4proto udp meta mark 0x0000ca6c ct mark set meta mark"});
    CHECK(s.notes.empty());
    CHECK(s.shared_with.empty());
}

TEST_CASE("preraw passes, premangle restores the mark from conntrack (seed, outer reply)") {
    Harness h;
    auto pkt = outer_reply(2);
    h.add(h.bracket(pkt, kPreBefore, 1000, 0, kWgMark, kCtNone));
    h.add(h.bracket(pkt, kPreMid, 1100, 0, kWgMark, kCtNone));
    h.add(h.bracket(pkt, kPreAfter, 1200, kWgMark, kWgMark, kEstablishedReply));
    REQUIRE(h.steps.size() == 2);
    CHECK(h.steps[0].chain == "preraw");
    CHECK(h.steps[0].priority == -300);
    CHECK(h.steps[0].verdict == NfVerdict::accept);
    CHECK(h.steps[0].mark_before == h.steps[0].mark_after);
    CHECK(h.steps[0].rules_that_set.empty());
    CHECK(h.steps[0].ct_state == "none");
    CHECK(h.steps[1].chain == "premangle");
    CHECK(h.steps[1].mark_before == 0);
    CHECK(h.steps[1].mark_after == kWgMark);
    CHECK(h.steps[1].ct_state == "established reply");
    CHECK(h.steps[1].rules_that_set == std::vector<std::string>{"meta l4proto udp meta mark set ct mark"});

    // Then input: a new hook point for the same packet.
    h.add(h.bracket(pkt, kInBefore, 1300, kWgMark, kWgMark, kEstablishedReply));
    h.add(h.bracket(pkt, kInAfter, 1400, kWgMark, kWgMark, kEstablishedReply));
    REQUIRE(h.steps.size() == 3);
    CHECK(h.steps[2].table == "filter");
    CHECK(h.steps[2].chain == "input");
    CHECK(h.steps[2].hook == NfHook::input);
    CHECK(h.steps[2].verdict == NfVerdict::accept);
    h.stepper.flush_all();
    CHECK(h.steps.size() == 3); // it passed the last bracket: nothing open
}

TEST_CASE("a NETFILTER_DROP after a bracket blames the chains after it") {
    Harness h;
    auto pkt = outer_udp(3);
    h.add(h.bracket(pkt, kOutBefore, 1000, 0, 0, kNew));
    h.drop(pkt, 1100, kNetfilterDrop);
    REQUIRE(h.steps.size() == 1);
    CHECK(h.steps[0].verdict == NfVerdict::drop);
    CHECK(h.steps[0].family == "inet");
    CHECK(h.steps[0].chain == "output");
    CHECK(h.steps[0].ct_state == "new");
    REQUIRE(h.drops.size() == 1);
    CHECK(h.drops[0].reason == "NETFILTER_DROP");
    CHECK(h.drops[0].location == "nft_do_chain+0x3f2");
    CHECK(h.drops[0].chain == "inet filter output");
    CHECK(h.drops[0].t_ns == 1100);
    h.stepper.flush_all();
    CHECK(h.steps.size() == 1); // forgotten after the drop
}

TEST_CASE("a drop for another reason does not blame a chain") {
    Harness h;
    auto pkt = outer_udp(4);
    h.add(h.bracket(pkt, kOutBefore, 1000, 0, 0));
    h.drop(pkt, 1100, kNeighFailed);
    CHECK(h.steps.empty());
    REQUIRE(h.drops.size() == 1);
    CHECK(h.drops[0].reason == "NEIGH_FAILED");
    CHECK(h.drops[0].chain.empty());
    h.stepper.flush_all();
    CHECK(h.steps.empty());

    // Netfilter drops after the last bracket of a hook point are not blamed on any chain either.
    auto late = outer_udp(5);
    h.add(h.bracket(late, kOutBefore, 2000, 0, 0));
    h.add(h.bracket(late, kOutAfter, 2100, 0, 0));
    h.drop(late, 2200, kNetfilterDrop);
    CHECK(h.steps.size() == 1);
    CHECK(h.drops[1].chain.empty());

    // A drop of a packet never seen at a bracket: held for a chain verdict that never comes, then shown.
    h.drop(outer_udp(6), 3000, kNetfilterDrop);
    CHECK(h.drops.size() == 2);
    h.stepper.flush_all();
    REQUIRE(h.drops.size() == 3);
    CHECK(h.drops[2].chain.empty());
}

TEST_CASE("since 6.7 the drop comes before the dropping chain's verdict: it is held and named") {
    Harness h;
    auto pkt = outer_udp(31);
    h.drop(pkt, 1050, kNetfilterDrop); // kfree_skb fires inside nft_do_chain
    CHECK(h.drops.empty());
    auto dropped = chain_event(1, 3, (1u << 16) | 2); // inet filter output, then fexit
    dropped.hook = NfHook::output;
    dropped.pkt = pkt;
    h.stepper.add(dropped);
    REQUIRE(h.steps.size() == 1);
    CHECK(h.steps[0].verdict == NfVerdict::drop);
    REQUIRE(h.drops.size() == 1);
    CHECK(h.drops[0].chain == "inet filter output");
    CHECK(h.drops[0].reason == "NETFILTER_DROP");
    h.stepper.flush_all();
    CHECK(h.drops.size() == 1); // not twice
}

TEST_CASE("events of interleaved packets are kept apart") {
    Harness h;
    auto a = outer_udp(10), b = outer_udp(11);
    b.sport = 40000;
    h.add(h.bracket(a, kPostBefore, 1000, kWgMark, 0, kNew));
    h.add(h.bracket(b, kPostBefore, 1010, 0, 0, kEstablished));
    h.add(h.bracket(a, kPostAfter, 1020, kWgMark, kWgMark, kNew));
    h.add(h.bracket(b, kPostAfter, 1030, 0, 0, kEstablished));
    REQUIRE(h.steps.size() == 2);
    CHECK(h.steps[0].pkt.id == 10);
    CHECK(h.steps[0].ct_mark_after == kWgMark);
    CHECK(h.steps[0].rules_that_set.size() == 1);
    CHECK(h.steps[1].pkt.id == 11);
    CHECK(h.steps[1].pkt.sport == 40000);
    CHECK(h.steps[1].ct_mark_after == 0);
    CHECK(h.steps[1].rules_that_set.empty());
}

TEST_CASE("events of another generation or an unknown namespace are counted and ignored") {
    Harness h;
    auto pkt = outer_udp(12);
    auto old = h.bracket(pkt, kPostBefore, 1000, 0, 0);
    old.generation = 0;
    h.add(old);
    auto elsewhere = h.bracket(pkt, kPostBefore, 1000, 0, 0);
    elsewhere.netns = 1;
    h.add(elsewhere);
    auto out_of_plan = h.bracket(pkt, 0, 1000, 0, 0);
    out_of_plan.bracket = 40;
    h.add(out_of_plan);
    h.add(h.bracket(pkt, kPostAfter, 1100, 0, 0));
    CHECK(h.stepper.stale_generation_events() == 3);
    CHECK(h.steps.empty()); // the first bracket was ignored: nothing to pair with
}

TEST_CASE("idle packets close their open span as unknown") {
    Harness h;
    auto pkt = outer_udp(13);
    h.add(h.bracket(pkt, kOutBefore, 1000, 0, 0, kNew));
    h.stepper.flush(1000 + kIdle - 1);
    CHECK(h.steps.empty());
    h.stepper.flush(1000 + kIdle);
    REQUIRE(h.steps.size() == 1);
    CHECK(h.steps[0].verdict == NfVerdict::unknown);
    CHECK(h.steps[0].chain == "output");
    CHECK(h.steps[0].notes ==
          std::vector<std::string>{"packet not seen after this chain (stolen, queued, or event lost)"});
    h.stepper.flush_all();
    CHECK(h.steps.size() == 1);

    // A packet idle at the last bracket of its hook point just goes away.
    auto done = outer_udp(14);
    h.add(h.bracket(done, kOutBefore, 5000, 0, 0));
    h.add(h.bracket(done, kOutAfter, 5100, 0, 0));
    h.stepper.flush_all();
    CHECK(h.steps.size() == 2);
}

TEST_CASE("a packet that leaves a hook point before its next bracket was stolen there") {
    Harness h;
    auto pkt = outer_udp(15);
    h.add(h.bracket(pkt, kOutBefore, 1000, 0, 0, kNew));
    h.add(h.bracket(pkt, kPostBefore, 2000, 0, 0, kNew));
    REQUIRE(h.steps.size() == 1);
    CHECK(h.steps[0].verdict == NfVerdict::stolen);
    CHECK(h.steps[0].chain == "output");
    CHECK(h.steps[0].notes.size() == 1);
}

TEST_CASE("a missed bracket reports the chains between together") {
    Harness h;
    auto pkt = outer_reply(16);
    h.add(h.bracket(pkt, kPreBefore, 1000, 0, kWgMark, kCtNone));
    h.add(h.bracket(pkt, kPreAfter, 1200, kWgMark, kWgMark, kEstablishedReply));
    REQUIRE(h.steps.size() == 1);
    CHECK(h.steps[0].chain == "preraw");
    CHECK(h.steps[0].shared_with == std::vector<std::string>{"ip wg-quick-wg0 premangle"});
    CHECK(h.steps[0].rules_that_set ==
          std::vector<std::string>{"ip wg-quick-wg0 premangle: meta l4proto udp meta mark set ct mark"});
    CHECK(h.steps[0].notes ==
          std::vector<std::string>{"bracket events missing: the chains between are reported together"});
}

TEST_CASE("shared spans, jump targets, rewrites and changes outside nftables") {
    NftRuleset r;
    r.tables = {{"inet", "fw", 1, 0}, {"ip", "nat", 2, 0}};
    r.chains = {base_chain("inet", "fw", "out", NfHook::output, 0, 1, 1, {"ip daddr 10.0.0.0/8 jump marker"}),
                nft_chain("inet", "fw", "marker", 1, 2, {"meta mark set 0x00000001", "ct mark set 0x00000002"}),
                base_chain("ip", "nat", "out", NfHook::output, 0, 2, 1, {"ct mark set meta mark"}),
                base_chain("ip", "nat", "post", NfHook::postrouting, 100, 2, 2, {"masquerade"}, "nat")};
    BracketPlan plan = plan_brackets(r, 1);
    // A hand-made span with no chain: something else changes the mark there.
    plan.brackets.push_back({kNfprotoIpv4, NfHook::ingress, 0});
    plan.brackets.push_back({kNfprotoIpv4, NfHook::ingress, 10});
    uint32_t bare = static_cast<uint32_t>(plan.brackets.size() - 2);
    plan.spans.push_back({bare, bare + 1, {}});

    std::vector<NetfilterStep> steps;
    NetfilterStepper stepper(
        [&](uint32_t) {
            return NetfilterContext{&r, &plan};
        },
        [&](NetfilterStep&& s) { steps.push_back(std::move(s)); }, [](DropStep&&) {},
        [](uint32_t) { return std::string("NOT_SPECIFIED"); }, [](uint64_t) { return std::string(); });
    auto ev = [&](const PacketInfo& p, uint32_t index, uint32_t mark, uint32_t ct_mark) {
        NfBracketEvent e;
        e.netns = kSeedNetns;
        e.pkt = p;
        e.bracket = index;
        e.generation = 1;
        e.hook = plan.brackets[index].hook;
        e.mark = mark;
        e.ct_mark = ct_mark;
        e.ct_state = 2; // new: conntrack has looked the packet up
        return e;
    };

    auto pkt = outer_udp(20);
    stepper.add(ev(pkt, 0, 0, 0)); // output -1
    stepper.add(ev(pkt, 1, 1, 2)); // output 1
    REQUIRE(steps.size() == 1);
    // Equal priority: the newer table's chain (higher handle) is taken to run first.
    CHECK(steps[0].family == "ip");
    CHECK(steps[0].chain == "out");
    CHECK(steps[0].shared_with == std::vector<std::string>{"inet fw out"});
    // Candidates from every chain of the span and the chains they jump to; other chains' rules are prefixed.
    CHECK(steps[0].rules_that_set == std::vector<std::string>{"ct mark set meta mark",
                                                              "inet fw marker: meta mark set 0x00000001",
                                                              "inet fw marker: ct mark set 0x00000002"});

    // srcnat: the packet's source changed between the brackets around the NAT hook.
    auto after = pkt;
    after.src = *IpAddress::parse("198.51.100.7");
    after.sport = 1024;
    stepper.add(ev(pkt, 2, 1, 2));
    stepper.add(ev(after, 3, 1, 2));
    REQUIRE(steps.size() == 2);
    CHECK(steps[1].chain == "post");
    CHECK(steps[1].priority == 100);
    CHECK(steps[1].notes == std::vector<std::string>{"src rewritten: 192.168.178.48:51820 -> 198.51.100.7:1024"});
    CHECK(steps[1].pkt_after.src == after.src); // what the next hook saw: the path's "src rewritten"
    CHECK_FALSE(steps[1].conntrack_nat);

    // The connection's later packets: its NAT chain does not run, conntrack translates them as the first was.
    auto later = outer_udp(23);
    later.sport = pkt.sport;
    auto later_after = later;
    later_after.src = after.src;
    later_after.sport = after.sport;
    auto established = [&](NfBracketEvent e) {
        e.ct_state = kCtEstablished;
        return e;
    };
    stepper.add(established(ev(later, 2, 1, 2)));
    stepper.add(established(ev(later_after, 3, 1, 2)));
    REQUIRE(steps.size() == 3);
    CHECK(steps[2].family.empty());
    REQUIRE(steps[2].conntrack_nat);
    CHECK(*steps[2].conntrack_nat == std::vector<std::string>{"ip nat post"});
    CHECK(steps[2].pkt_after.src == after.src);
    CHECK(steps[2].notes.size() == 2);
    // A reply de-masqueraded by conntrack's NAT hook at -100, inside another chain's span (NAT hooks are registered at
    // every hook once a NAT chain exists): that chain is named, and conntrack's NAT beside it.
    plan.brackets.push_back({kNfprotoIpv4, NfHook::prerouting, -151});
    plan.brackets.push_back({kNfprotoIpv4, NfHook::prerouting, -1});
    const uint32_t pre = static_cast<uint32_t>(plan.brackets.size() - 2);
    plan.spans.push_back({pre, pre + 1, {{"ip", "fw", "premangle", -150}}});
    auto reply = outer_udp(25);
    auto reply_after = reply;
    reply_after.dst = *IpAddress::parse("10.0.0.9");
    stepper.add(established(ev(reply, pre, 0, 0)));
    stepper.add(established(ev(reply_after, pre + 1, 0, 0)));
    REQUIRE(steps.size() == 4);
    CHECK(steps[3].chain == "premangle");
    REQUIRE(steps[3].conntrack_nat);
    CHECK(steps[3].conntrack_nat->empty());
    CHECK(chain_text(steps[3]) == "ip fw premangle (prio -150) and conntrack NAT (an established connection)");
    steps.pop_back();

    // ... and one it did not translate: nothing ran there, nothing to show.
    auto untranslated = outer_udp(24);
    stepper.add(established(ev(untranslated, 2, 1, 2)));
    stepper.add(established(ev(untranslated, 3, 1, 2)));
    REQUIRE(steps.size() == 3);
    steps.pop_back();

    // A span without chains: a change is reported with a note, no change reports nothing.
    auto other = outer_udp(21);
    stepper.add(ev(other, bare, 0, 0));
    stepper.add(ev(other, bare + 1, 0, 0));
    CHECK(steps.size() == 2);
    auto changed = outer_udp(22);
    stepper.add(ev(changed, bare, 0, 0));
    stepper.add(ev(changed, bare + 1, 5, 0));
    REQUIRE(steps.size() == 3);
    CHECK(steps[2].family.empty());
    CHECK(steps[2].chain.empty());
    CHECK(steps[2].mark_after == 5);
    CHECK(steps[2].notes.size() == 1);
    CHECK(steps[2].notes[0].find("not an nftables chain") != std::string::npos);
}

TEST_CASE("exact chain runs: names from handles, verdicts incl. the 6.7 drop encoding") {
    Harness h;
    auto accept = chain_event(2, 3, 1); // ip wg-quick-wg0 postmangle
    accept.ct_mark_after = kWgMark;
    h.stepper.add(accept);
    REQUIRE(h.steps.size() == 1);
    CHECK(h.steps[0].exact);
    CHECK(h.steps[0].chain == "postmangle");
    CHECK(h.steps[0].priority == -150);
    CHECK(h.steps[0].verdict == NfVerdict::accept);
    CHECK(h.steps[0].ct_mark_after == kWgMark);
    CHECK(h.steps[0].ct_state == "new");
    CHECK(h.steps[0].rules_that_set.size() == 1);

    auto dropped = chain_event(1, 3, (1u << 16) | 2); // inet filter output, 6.7+: (EPERM << 16) | NF_STOLEN
    dropped.hook = NfHook::output;
    dropped.pkt = outer_udp(30);
    h.stepper.add(dropped);
    REQUIRE(h.steps.size() == 2);
    CHECK(h.steps[1].verdict == NfVerdict::drop);
    CHECK(h.steps[1].table == "filter");
    h.drop(outer_udp(30), 1100, kNetfilterDrop);
    REQUIRE(h.drops.size() == 1);
    CHECK(h.drops[0].chain == "inet filter output");
    CHECK(h.steps.size() == 2); // no bracket step on top of the exact one

    h.stepper.add(chain_event(1, 3, 0)); // before 6.7: NF_DROP
    CHECK(h.steps.back().verdict == NfVerdict::drop);
    h.stepper.add(chain_event(1, 3, 2)); // NF_STOLEN without EPERM: really stolen
    CHECK(h.steps.back().verdict == NfVerdict::stolen);
    h.stepper.add(chain_event(1, 3, (3u << 16) | 3)); // NF_QUEUE to queue 3
    CHECK(h.steps.back().verdict == NfVerdict::queue);

    auto unknown = chain_event(7, 99, 1);
    unknown.table_family = kNfprotoInet;
    h.stepper.add(unknown);
    CHECK(h.steps.back().family == "inet");
    CHECK(h.steps.back().table == "handle 7");
    CHECK(h.steps.back().chain == "handle 99");
    CHECK(h.steps.back().notes.size() == 1);
}

TEST_CASE("exact chain runs of wgbpf's own trace table are not reported as the user's") {
    Harness h;
    NftTable own{"inet", "wgbpf_trace_4242", 9, 2};
    h.ruleset.tables.push_back(own);
    remove_wgbpf_trace_tables(h.ruleset);
    REQUIRE(h.ruleset.hidden_tables == std::vector<uint64_t>{9});
    auto traced = chain_event(9, 1, 1);
    traced.table_family = kNfprotoInet;
    h.stepper.add(traced);
    CHECK(h.steps.empty());
    h.stepper.add(chain_event(2, 3, 1)); // the user's chains still are
    CHECK(h.steps.size() == 1);
}
