#include <catch2/catch_test_macros.hpp>

#include "golden.hpp"
#include "netfilter_fixtures.hpp"
#include "netfilter/netfilter_stepper.hpp"
#include "render_json.hpp"
#include "render/netfilter_render.hpp"

using namespace wgbpf;
using namespace wgbpf::test;

namespace {

std::string link_name(int ifindex) {
    switch (ifindex) {
    case 1: return "lo";
    case 2: return "c0";
    case 5: return "wg0";
    }
    return "";
}

PacketInfo udp(const char* src, uint16_t sport, const char* dst, uint16_t dport) {
    PacketInfo p;
    p.id = 0x5eed0000c0ffee01;
    p.is_ip = true;
    p.proto = 17;
    p.len = 148;
    p.has_l4 = true;
    p.sport = sport;
    p.dport = dport;
    p.ip_id = 0x1c46;
    p.src = *IpAddress::parse(src);
    p.dst = *IpAddress::parse(dst);
    return p;
}

PacketInfo outer_udp() {
    PacketInfo p = udp("192.168.178.48", 51820, "203.0.113.123", 51820);
    p.oif = 2;
    return p;
}

PacketInfo outer_reply() {
    PacketInfo p = udp("203.0.113.123", 51820, "192.168.178.48", 51820);
    p.id = 0x5eed0000c0ffee02;
    p.iif = 2;
    return p;
}

PacketInfo ping6() {
    PacketInfo p;
    p.id = 0x5eed0000c0ffee03;
    p.is_ip = true;
    p.family = Family::ipv6;
    p.proto = 58;
    p.len = 104;
    p.has_l4 = true;
    p.dport = 128 << 8; // echo request
    p.src = *IpAddress::parse("fd10::1");
    p.dst = *IpAddress::parse("2001:db8::9");
    p.oif = 5;
    return p;
}

NetfilterStep step(const PacketInfo& pkt, NfHook hook, std::string family, std::string table, std::string chain,
                   int32_t priority, std::string_view verdict, uint64_t t_ns) {
    NetfilterStep s;
    s.t_ns = t_ns;
    s.netns = kSeedNetns;
    s.pkt = pkt;
    s.hook = hook;
    s.family = std::move(family);
    s.table = std::move(table);
    s.chain = std::move(chain);
    s.priority = priority;
    s.verdict = parse_enum<NfVerdict>(verdict).value();
    s.ct_state = "none";
    return s;
}

std::vector<NetfilterStep> sample_steps() {
    std::vector<NetfilterStep> out;

    // Seed: the outer UDP leaves through postmangle, which stores the mark in conntrack.
    NetfilterStep post =
        step(outer_udp(), NfHook::postrouting, "ip", "wg-quick-wg0", "postmangle", -150, "accept", 1'500'200'000);
    post.mark_before = post.mark_after = 0xca6c;
    post.ct_mark_after = 0xca6c;
    post.ct_state = "new";
    post.rules_that_set = {"meta l4proto udp meta mark 0x0000ca6c ct mark set meta mark"};
    out.push_back(post);

    // Seed: the reply passes preraw and gets its mark back in premangle.
    NetfilterStep preraw =
        step(outer_reply(), NfHook::prerouting, "ip", "wg-quick-wg0", "preraw", -300, "accept", 1'521'800'000);
    preraw.ct_state_before = "none"; // before conntrack (-200): the connection is not known yet
    out.push_back(preraw);
    NetfilterStep premangle =
        step(outer_reply(), NfHook::prerouting, "ip", "wg-quick-wg0", "premangle", -150, "accept", 1'521'810'000);
    premangle.mark_after = 0xca6c;
    premangle.ct_mark_before = premangle.ct_mark_after = 0xca6c;
    premangle.ct_state = "established reply";
    premangle.rules_that_set = {"meta l4proto udp meta mark set ct mark"};
    out.push_back(premangle);

    // A shared span (inet filter and a legacy table at priority 0).
    NetfilterStep input = step(outer_reply(), NfHook::input, "inet", "filter", "input", 0, "accept", 1'521'900'000);
    input.mark_before = input.mark_after = 0xca6c;
    input.ct_mark_before = input.ct_mark_after = 0xca6c;
    input.ct_state = "established reply";
    input.shared_with = {"iptables filter INPUT"};
    out.push_back(input);

    // Exact: nft_do_chain said drop.
    NetfilterStep drop = step(udp("10.0.0.1", 40000, "198.51.100.9", 53), NfHook::output, "inet", "filter", "output", 0,
                              "drop", 1'600'000'000);
    drop.exact = true;
    drop.ct_state = "new";
    out.push_back(drop);

    // A change between two brackets with no chain there.
    NetfilterStep bare = step(outer_udp(), NfHook::output, "", "", "", 0, "accept", 1'700'000'000);
    bare.mark_after = 0x1;
    bare.notes = {
        "changed between wgbpf's hooks by something that is not an nftables chain (iptables-legacy, conntrack "
        "or another BPF program)"};
    out.push_back(bare);

    // Never seen after the chain.
    NetfilterStep unknown = step(ping6(), NfHook::output, "inet", "filter", "output", 0, "unknown", 1'800'000'000);
    unknown.notes = {"packet not seen after this chain (stolen, queued, or event lost)"};
    out.push_back(unknown);

    // --nftrace: the reply accepted by a rule in the chain `jump global` led to.
    NetfilterStep traced = step(outer_reply(), NfHook::input, "inet", "filter", "input", 0, "accept", 1'900'000'000);
    traced.ct_state = "established reply";
    traced.trace_id = 0x6ca3695d;
    traced.rule_handle = 5;
    traced.rule = "ct state established,related accept";
    traced.traced_rules = {{8, "jump global", "jump global", ""},
                           {5, "ct state established,related accept", "accept", "inet filter global"}};
    out.push_back(traced);

    // --nftrace: the policy decided.
    NetfilterStep policy = step(outer_udp(), NfHook::output, "inet", "filter", "output", 0, "accept", 1'900'100'000);
    policy.trace_id = 0x0000beef;
    out.push_back(policy);
    return out;
}

std::vector<DropStep> sample_drops() {
    DropStep nf;
    nf.t_ns = 1'600'000'100;
    nf.netns = kSeedNetns;
    nf.pkt = udp("10.0.0.1", 40000, "198.51.100.9", 53);
    nf.reason = "NETFILTER_DROP";
    nf.location = "nft_do_chain+0x3f2";
    nf.chain = "inet filter output";

    DropStep neigh;
    neigh.t_ns = 1'900'000'000;
    neigh.netns = kSeedNetns;
    neigh.pkt = ping6();
    neigh.reason = "NEIGH_FAILED";
    return {nf, neigh};
}

std::string render_samples(bool json) {
    std::string out;
    for (const NetfilterStep& s : sample_steps())
        out += json ? json_text([&](JsonWriter& w) { write_netfilter_json(w, s, link_name); }) + "\n"
                    : render_netfilter_text(s, TextStyle{});
    for (const DropStep& d : sample_drops())
        out += json ? json_text([&](JsonWriter& w) { write_drop_json(w, d, link_name); }) + "\n"
                    : render_drop_text(d, TextStyle{});
    return out;
}

// The seed scenario end to end: bracket events through the stepper, then rendered.
std::string render_seed_scenario(bool json) {
    NftRuleset ruleset = seed_ruleset();
    BracketPlan plan = plan_brackets(ruleset, 1);
    std::string out;
    NetfilterStepper stepper(
        [&](uint32_t) {
            return NetfilterContext{&ruleset, &plan};
        },
        [&](NetfilterStep&& s) {
            out += json ? json_text([&](JsonWriter& w) { write_netfilter_json(w, s, link_name); }) + "\n"
                        : render_netfilter_text(s, TextStyle{});
        },
        [&](DropStep&& d) {
            out += json ? json_text([&](JsonWriter& w) { write_drop_json(w, d, link_name); }) + "\n"
                        : render_drop_text(d, TextStyle{});
        },
        [](uint32_t) { return std::string("NETFILTER_DROP"); },
        [](uint64_t) { return std::string("nft_do_chain+0x3f2"); });
    auto ev = [&](const PacketInfo& p, uint32_t index, uint64_t t, uint32_t mark, uint32_t ct_mark, uint8_t ct) {
        NfBracketEvent e;
        e.t_ns = t;
        e.netns = kSeedNetns;
        e.pkt = p;
        e.bracket = index;
        e.generation = 1;
        e.hook = plan.brackets[index].hook;
        e.pf = plan.brackets[index].pf;
        e.ct_state = ct;
        e.mark = mark;
        e.ct_mark = ct_mark;
        stepper.add(e);
    };
    PacketInfo out_pkt = outer_udp();
    ev(out_pkt, kOutBefore, 1'500'100'000, 0xca6c, 0, 2); // conntrack ran at -200
    ev(out_pkt, kOutAfter, 1'500'110'000, 0xca6c, 0, 2);
    ev(out_pkt, kPostBefore, 1'500'200'000, 0xca6c, 0, 2);
    ev(out_pkt, kPostAfter, 1'500'210'000, 0xca6c, 0xca6c, 2);
    PacketInfo reply = outer_reply();
    ev(reply, kPreBefore, 1'521'800'000, 0, 0xca6c, kCtNone);
    ev(reply, kPreMid, 1'521'810'000, 0, 0xca6c, 3); // -151: after conntrack (-200), which found the connection
    ev(reply, kPreAfter, 1'521'820'000, 0xca6c, 0xca6c, 3);
    ev(reply, kInBefore, 1'521'900'000, 0xca6c, 0xca6c, 3);
    ev(reply, kInAfter, 1'521'910'000, 0xca6c, 0xca6c, 3);
    // An inner packet that the input chain drops (policy drop).
    PacketInfo blocked = udp("198.51.100.9", 53, "10.0.0.1", 40001);
    blocked.id = 0x5eed0000c0ffee04;
    blocked.iif = 5;
    ev(blocked, kInBefore, 1'600'000'000, 0, 0, 2);
    DropEvent d;
    d.t_ns = 1'600'000'050;
    d.netns = kSeedNetns;
    d.pkt = blocked;
    d.reason = 6;
    stepper.add(d);
    stepper.flush_all();
    return out;
}

} // namespace

TEST_CASE("netfilter steps and drops render as text (golden)") {
    check_golden("netfilter_steps.txt", render_samples(false));
}

TEST_CASE("netfilter steps and drops render as JSON lines (golden)") {
    check_golden("netfilter_steps.jsonl", render_samples(true));
}

TEST_CASE("the seed scenario, from bracket events to text and JSON (golden)") {
    check_golden("netfilter_seed.txt", render_seed_scenario(false));
    check_golden("netfilter_seed.jsonl", render_seed_scenario(true));
}

TEST_CASE("JSON netfilter and drop objects carry the contract's fields") {
    auto steps = sample_steps();
    auto j = netfilter_to_json(steps[0], link_name);
    CHECK(j["kind"] == "netfilter");
    CHECK(j["hook"] == "postrouting");
    CHECK(j["family"] == "ip");
    CHECK(j["table"] == "wg-quick-wg0");
    CHECK(j["chain"] == "postmangle");
    CHECK(j["shared_with"].is_array());
    CHECK(j["priority"] == -150);
    CHECK(j["verdict"] == "accept");
    CHECK(j["mark_before"] == 0xca6c);
    CHECK(j["ct_mark_before"] == 0);
    CHECK(j["ct_mark_after"] == 0xca6c);
    CHECK(j["ct_state"] == "new");
    CHECK(j["exact"] == false);
    CHECK(j["rules_that_set"].size() == 1);
    CHECK_FALSE(j.contains("notes"));
    CHECK(j["t_ns"] == 1'500'200'000);
    CHECK(j["netns"] == kSeedNetns);
    CHECK(j["src"] == "192.168.178.48");
    CHECK(j["proto"] == "udp");
    CHECK(j["sport"] == 51820);
    CHECK(j["len"] == 148);
    CHECK(j["ip_id"] == 0x1c46);
    CHECK(j["iif"].is_null());
    CHECK(j["oif"] == "c0");
    CHECK(j["packet_id"] == "5eed0000c0ffee01");

    auto bare = netfilter_to_json(steps[5], link_name);
    CHECK(bare["chain"].is_null());
    CHECK(bare["priority"].is_null());
    CHECK(bare["notes"].size() == 1);

    auto icmp = netfilter_to_json(steps[6], link_name);
    CHECK(icmp["icmp_type"] == 128);
    CHECK(icmp["icmp_code"] == 0);
    CHECK_FALSE(icmp.contains("dport"));
    CHECK_FALSE(icmp.contains("ip_id"));
    CHECK(icmp["oif"] == "wg0");

    auto drops = sample_drops();
    auto d = drop_to_json(drops[0], link_name);
    CHECK(d["kind"] == "drop");
    CHECK(d["reason"] == "NETFILTER_DROP");
    CHECK(d["location"] == "nft_do_chain+0x3f2");
    CHECK(d["chain"] == "inet filter output");
    CHECK(d["dport"] == 53);
    CHECK(drop_to_json(drops[1], link_name)["chain"].is_null());

    // Unresolvable interfaces keep their index, the way `ip link` names a peer in another namespace.
    auto pkt = outer_udp();
    pkt.iif = 9;
    NetfilterStep s = steps[0];
    s.pkt = pkt;
    CHECK(netfilter_to_json(s, link_name)["iif"] == "if9");
    CHECK(netfilter_to_json(s)["oif"] == "if2");
}

TEST_CASE("nftrace's part of a step: the deciding rule or the policy, the trace id as nft prints it, traced rules") {
    std::vector<NetfilterStep> steps = sample_steps();
    const NetfilterStep& traced = steps[steps.size() - 2];
    const NetfilterStep& policy = steps.back();
    CHECK(decider_text(traced) == "rule #5 \"ct state established,related accept\" (trace 6ca3695d)");
    CHECK(decider_text(policy) == "policy (trace 0000beef)");
    CHECK(decider_text(steps.front()).empty());
    // The deciding rule is not repeated when it is in the step's own chain; here it is in `global`.
    CHECK(traced_rule_lines(traced) ==
          std::vector<std::string>{
              "traced: rule #8 \"jump global\" -> jump global",
              "traced: inet filter global: rule #5 \"ct state established,related accept\" -> accept"});
    nlohmann::json j = netfilter_to_json(traced, link_name);
    CHECK(j["trace_id"] == "6ca3695d");
    CHECK(j["rule_handle"] == 5);
    CHECK(j["rule"] == "ct state established,related accept");
    REQUIRE(j["traced_rules"].size() == 2);
    CHECK(j["traced_rules"][0]["chain"].is_null());
    CHECK(j["traced_rules"][1]["chain"] == "inet filter global");
    nlohmann::json untraced = netfilter_to_json(steps.front(), link_name);
    CHECK(untraced["trace_id"].is_null());
    CHECK(untraced["rule_handle"].is_null());
    CHECK(untraced["traced_rules"].empty());
}

TEST_CASE("netfilter text: marks shown when set, changes marked, colour only when asked") {
    auto steps = sample_steps();
    std::string post = render_netfilter_text(steps[0], TextStyle{});
    CHECK(post.find("mark 0xca6c  ct mark 0x0 -> 0xca6c") != std::string::npos);
    CHECK(post.find("    set by: meta l4proto udp") != std::string::npos);
    std::string preraw = render_netfilter_text(steps[1], TextStyle{});
    CHECK(preraw.find(" mark 0x") == preraw.find(" mark 0xca6c")); // only the ct mark, once
    CHECK(preraw.find("ct state") == std::string::npos);           // "none" is not printed
    CHECK(post.find('\033') == std::string::npos);
    CHECK(render_netfilter_text(steps[0], TextStyle{true, 0}).find('\033') != std::string::npos);
    CHECK(render_drop_text(sample_drops()[0], TextStyle{true, 0}).find("\033[31mNETFILTER_DROP") != std::string::npos);
}

TEST_CASE("names of hooks, conntrack states and verdicts") {
    CHECK(hook_name(NfHook::postrouting) == "postrouting");
    CHECK(ct_state_name(0) == "established");
    CHECK(ct_state_name(3) == "established reply");
    CHECK(ct_state_name(7) == "untracked");
    CHECK(ct_state_name(kCtNone) == "none");
    CHECK(name_of(nf_verdict_of(1)) == "accept");
    CHECK(name_of(nf_verdict_of(0)) == "drop");
    CHECK(name_of(nf_verdict_of((1u << 16) | 2)) == "drop");
    CHECK(name_of(nf_verdict_of(2)) == "stolen");
    CHECK(name_of(nf_verdict_of((2u << 16) | 3)) == "queue");
    CHECK(name_of(nf_verdict_of(4)) == "repeat");
    CHECK(name_of(nf_verdict_of(5)) == "stop");
    CHECK(name_of(nf_verdict_of(0xfffffffd)) == "unknown"); // NFT_CONTINUE never leaves nft_do_chain
}
