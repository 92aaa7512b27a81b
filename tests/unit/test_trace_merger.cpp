// nftrace events merged into wgbpf's netfilter steps: same packet, same chain, in time; late messages still
// merge while the output is held; bounded memory.
#include <catch2/catch_test_macros.hpp>

#include <vector>

#include "timeline_fixtures.hpp"
#include "nftrace/trace_merger.hpp"

using namespace wgbpf;
using namespace wgbpf::test;

namespace {

constexpr uint64_t kMs = 1'000'000;

// The seed's ping as wgbpf sees it: 10.0.0.1 -> 198.51.100.9, IP id 44121 unless told.
PacketInfo ping(uint16_t ip_id = 44121) {
    PacketInfo p = icmp_packet(7, "10.0.0.1", "198.51.100.9", 8);
    p.ip_id = ip_id;
    return p;
}

NftracePacket traced(uint16_t ip_id = 44121) {
    NftracePacket p;
    p.family = Family::ipv4;
    p.saddr = *IpAddress::parse("10.0.0.1");
    p.daddr = *IpAddress::parse("198.51.100.9");
    p.ip_id = ip_id;
    p.length = 84;
    p.l4proto = 1;
    p.icmp_type = 8;
    p.icmp_code = 0;
    return p;
}

NetfilterStep step(const std::string& family, const std::string& table, const std::string& chain, uint64_t t_ns,
                   PacketInfo pkt = ping()) {
    return nf_step(pkt, NfHook::input, family, table, chain, 0, t_ns);
}

NftraceEvent event(uint32_t id, const std::string& family, const std::string& table, const std::string& chain,
                   NftraceKind kind, std::optional<uint64_t> handle, const std::string& verdict, uint64_t t_ns,
                   bool with_packet = false, uint16_t ip_id = 44121) {
    NftraceEvent e;
    e.trace_id = id;
    e.family = family;
    e.table = table;
    e.chain = chain;
    e.kind = kind;
    e.rule_handle = handle;
    if (handle) e.rule = "rule " + std::to_string(*handle);
    e.verdict = verdict;
    e.t_ns = t_ns;
    if (with_packet) e.packet = traced(ip_id);
    return e;
}

// The seed's input chain: `jump global`, where `ct state established,related accept` decides.
void trace_input_chain(NftraceMerger& m, uint32_t id, uint64_t t_ns, uint16_t ip_id = 44121) {
    m.add(event(id, "inet", "filter", "input", NftraceKind::rule, 8, "jump global", t_ns, true, ip_id));
    m.add(event(id, "inet", "filter", "global", NftraceKind::rule, 5, "accept", t_ns));
}

struct Released {
    std::vector<PipelineOutput> outputs;
    NftraceMerger::Release sink() {
        return [this](PipelineOutput&& o) { outputs.push_back(std::move(o)); };
    }
    const NetfilterStep& step(size_t i) const { return std::get<NetfilterStep>(outputs.at(i)); }
};

} // namespace

TEST_CASE("a trace of the same packet in the same chain is merged: the deciding rule and every traced rule") {
    Released out;
    NftraceMerger m(out.sink());
    trace_input_chain(m, 0x6ca3695d, 1000 * kMs + 50'000);
    m.hold(step("inet", "filter", "input", 1000 * kMs));
    m.flush(1000 * kMs + 99 * kMs);
    CHECK(out.outputs.empty()); // still held
    m.flush(1000 * kMs + 101 * kMs);
    REQUIRE(out.outputs.size() == 1);
    const NetfilterStep& s = out.step(0);
    CHECK(s.trace_id == 0x6ca3695du);
    CHECK(s.rule_handle == 5u);
    CHECK(s.rule == "rule 5");
    REQUIRE(s.traced_rules.size() == 2);
    CHECK(s.traced_rules[0].handle == 8);
    CHECK(s.traced_rules[0].verdict == "jump global");
    CHECK(s.traced_rules[0].chain.empty());
    CHECK(s.traced_rules[1].chain == "inet filter global");
    CHECK(m.stats().received == 2);
    CHECK(m.stats().merged == 2);
}

TEST_CASE("when the policy decides there is no deciding rule, and each chain takes only its own events") {
    Released out;
    NftraceMerger m(out.sink());
    const uint64_t t = 5 * kMs;
    m.add(event(9, "inet", "filter", "output", NftraceKind::verdict, std::nullopt, "continue", t, true));
    m.add(event(9, "inet", "filter", "output", NftraceKind::policy, std::nullopt, "accept", t));
    m.add(event(9, "ip", "wg-quick-wg0", "postmangle", NftraceKind::rule, 12, "continue", t, true));
    m.add(event(9, "ip", "wg-quick-wg0", "postmangle", NftraceKind::policy, std::nullopt, "accept", t));
    m.hold(step("inet", "filter", "output", t));
    m.hold(step("ip", "wg-quick-wg0", "postmangle", t));
    m.finish();
    REQUIRE(out.outputs.size() == 2);
    CHECK(out.step(0).trace_id == 9u);
    CHECK_FALSE(out.step(0).rule_handle);
    CHECK(out.step(0).rule.empty());
    CHECK(out.step(0).traced_rules.empty());
    CHECK_FALSE(out.step(1).rule_handle);
    REQUIRE(out.step(1).traced_rules.size() == 1);
    CHECK(out.step(1).traced_rules[0].handle == 12);
    CHECK(m.stats().merged == 4);
    CHECK(m.stats().unmatched == 0);
}

TEST_CASE("another packet, another chain or another time is not merged, and is counted unmatched") {
    Released out;
    NftraceMerger m(out.sink());
    const uint64_t t = 10'000 * kMs;
    SECTION("another packet (IP id)") { trace_input_chain(m, 1, t, 999); }
    SECTION("another chain") {
        m.add(event(1, "inet", "filter", "forward", NftraceKind::rule, 3, "accept", t, true));
        m.add(event(1, "inet", "filter", "forward", NftraceKind::policy, std::nullopt, "accept", t));
    }
    SECTION("read before the step happened") { trace_input_chain(m, 1, t - 10 * kMs); }
    SECTION("read long after the step") { trace_input_chain(m, 1, t + 3000 * kMs); }
    m.hold(step("inet", "filter", "input", t));
    m.finish();
    REQUIRE(out.outputs.size() == 1);
    CHECK_FALSE(out.step(0).trace_id);
    CHECK(out.step(0).traced_rules.empty());
    CHECK(m.stats().merged == 0);
    CHECK(m.stats().unmatched == m.stats().received);
}

TEST_CASE("a trace message that arrives after its step, while the step is held, still merges; later it does not") {
    Released out;
    NftraceMerger m(out.sink());
    const uint64_t t = 2000 * kMs;
    PacketTimeline tl;
    tl.pkt = ping();
    tl.steps.push_back(step("inet", "filter", "input", t));
    m.hold(std::move(tl));
    m.flush(t + 40 * kMs);
    trace_input_chain(m, 77, t + 60 * kMs); // netlink read after the ring buffer
    m.flush(t + 150 * kMs);
    REQUIRE(out.outputs.size() == 1);
    const auto& merged = std::get<NetfilterStep>(std::get<PacketTimeline>(out.outputs[0]).steps[0]);
    CHECK(merged.trace_id == 77u);
    CHECK(merged.rule_handle == 5u);

    m.hold(step("inet", "filter", "input", t + 200 * kMs, ping(2)));
    m.flush(t + 400 * kMs); // released without a trace
    trace_input_chain(m, 78, t + 410 * kMs, 2);
    m.flush(t + 10'000 * kMs); // too old for any step now: forgotten
    REQUIRE(out.outputs.size() == 2);
    CHECK_FALSE(out.step(1).trace_id);
    CHECK(m.stats().merged == 2);
    CHECK(m.stats().unmatched == 2);
}

TEST_CASE("outputs keep their order, whatever kind they are") {
    Released out;
    NftraceMerger m(out.sink());
    RouteDecision d;
    d.t_ns = 1;
    m.hold(d);
    m.hold(step("inet", "filter", "input", 2));
    m.hold(DropStep{});
    m.finish();
    REQUIRE(out.outputs.size() == 3);
    CHECK(std::holds_alternative<RouteDecision>(out.outputs[0]));
    CHECK(std::holds_alternative<NetfilterStep>(out.outputs[1]));
    CHECK(std::holds_alternative<DropStep>(out.outputs[2]));
}

TEST_CASE("memory is bounded: too many traces drop the oldest, too many outputs are released early") {
    Released out;
    NftraceMergeLimits limits;
    limits.max_traces = 4;
    limits.max_held = 2;
    NftraceMerger m(out.sink(), limits);
    const uint64_t t = 100 * kMs;
    for (uint32_t id = 1; id <= 6; ++id) trace_input_chain(m, id, t, uint16_t(id));
    CHECK(m.stats().dropped == 4);                       // traces 1 and 2, two events each
    m.hold(step("inet", "filter", "input", t, ping(1))); // its trace was dropped
    m.hold(step("inet", "filter", "input", t, ping(3)));
    m.hold(step("inet", "filter", "input", t, ping(4)));
    CHECK(m.stats().released_early == 1);
    REQUIRE(out.outputs.size() == 1);
    CHECK_FALSE(out.step(0).trace_id);
    m.finish();
    REQUIRE(out.outputs.size() == 3);
    CHECK(out.step(1).trace_id == 3u);
    CHECK(out.step(2).trace_id == 4u);
    CHECK(m.stats().merged == 4);
    CHECK(m.stats().unmatched == 8); // 4 dropped + traces 5 and 6 never taken
}

TEST_CASE("a bracketed span takes the traces of every chain in it; the deciding rule only from its own chain") {
    Released out;
    NftraceMerger m(out.sink());
    const uint64_t t = 7 * kMs;
    NetfilterStep s = step("inet", "filter", "output", t);
    s.shared_with = {"ip wg-quick-wg0 postmangle"};
    m.add(event(3, "ip", "wg-quick-wg0", "postmangle", NftraceKind::rule, 12, "continue", t, true));
    m.add(event(3, "ip", "wg-quick-wg0", "postmangle", NftraceKind::policy, std::nullopt, "accept", t));
    m.hold(s);
    m.finish();
    const NetfilterStep& merged = out.step(0);
    CHECK(merged.trace_id == 3u);
    CHECK_FALSE(merged.rule_handle);
    REQUIRE(merged.traced_rules.size() == 1);
    CHECK(merged.traced_rules[0].chain == "ip wg-quick-wg0 postmangle");
}

TEST_CASE("two packets under the same trace id (a recycled skb of the same flow) each get their own trace") {
    Released out;
    NftraceMerger m(out.sink());
    const uint64_t t = 50'000 * kMs;
    trace_input_chain(m, 42, t, 1);
    m.hold(step("inet", "filter", "input", t, ping(1)));
    m.flush(t + 500 * kMs);
    trace_input_chain(m, 42, t + 1000 * kMs, 2); // the next ping, one second later, same id
    m.hold(step("inet", "filter", "input", t + 1000 * kMs, ping(2)));
    m.finish();
    REQUIRE(out.outputs.size() == 2);
    CHECK(out.step(0).rule_handle == 5u);
    CHECK(out.step(1).trace_id == 42u);
    CHECK(out.step(1).rule_handle == 5u);
    CHECK(m.stats().merged == 4);
}
