#include <catch2/catch_test_macros.hpp>

#include <prometheus/text_serializer.h>

#include "timeline_fixtures.hpp"
#include "metrics/path_metrics.hpp"

using namespace wgbpf;
using namespace wgbpf::test;

namespace {

std::string exposition(const PathMetrics& m) { return prometheus::TextSerializer().Serialize(m.registry()->Collect()); }

bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos;
}

// The seed's echo request, as if the kernel had dropped it for `reason` (its only step).
PacketTimeline dropped_for(const std::string& reason) {
    Collected c;
    feed_outgoing_ping(c.builder);
    c.builder.flush_all();
    PacketTimeline t = c.out.front();
    t.outcome = Outcome::dropped;
    t.steps.clear();
    DropStep d;
    d.reason = reason;
    t.steps.push_back(d);
    return t;
}

} // namespace

TEST_CASE("metrics: the seed's packets by outcome, the rp_filter drop by reason, interface and chain-less") {
    PathMetrics m;
    Collected ok;
    feed_outgoing_ping(ok.builder);
    feed_incoming_reply(ok.builder);
    ok.builder.flush_all();
    for (const PacketTimeline& t : ok.out) m.add(t);
    Collected failing({}, false);
    feed_rp_filter_failure(failing.builder);
    failing.builder.flush_all();
    for (const PacketTimeline& t : failing.out) m.add(t);
    m.modules({ModuleStatus{ModuleId::route, true, "x", {}, 40, 0}, ModuleStatus{ModuleId::drop, true, "y", {}, 5, 2}});
    m.modules({ModuleStatus{ModuleId::route, true, "x", {}, 50, 0}});
    const std::string text = exposition(m);
    INFO(text);
    CHECK(has_line(text, "wgbpf_packets_total{inferred=\"false\",outcome=\"encapsulated\"} 1"));
    CHECK(has_line(text, "wgbpf_packets_total{inferred=\"false\",outcome=\"delivered\"} 1"));
    CHECK(has_line(text, "wgbpf_drops_total{reason=\"IP_RPFILTER\"} 1"));
    CHECK(has_line(text, "wgbpf_rp_filter_failures_total{iif=\"c0\"} 1"));
    CHECK(has_line(text, "wgbpf_events_total{module=\"route\"} 50")); // totals, not added twice
    CHECK(has_line(text, "wgbpf_events_lost_total{module=\"drop\"} 2"));
    CHECK(has_line(text, "wgbpf_events_lost_total{module=\"route\"} 0"));
    // One ping: one message each way, though the inner timelines carry a copy of their outer packet's step.
    CHECK(has_line(text, "wgbpf_wireguard_messages_total{action=\"encrypt\",direction=\"out\",interface=\"wg0\"} 1"));
    // The reply's; the message rp_filter dropped never reached WireGuard: not a decryption.
    CHECK(has_line(text, "wgbpf_wireguard_messages_total{action=\"decrypt\",direction=\"in\",interface=\"wg0\"} 1"));
}

TEST_CASE("metrics: label values are valid UTF-8 of at most 128 bytes, whatever the kernel's names hold") {
    PathMetrics m;
    m.add(dropped_for("bad\xff\xfe\x1b[31m\xc3\xa9" + std::string(200, 'x')));
    const std::string text = exposition(m);
    INFO(text);
    CHECK(text.find("wgbpf_drops_total{reason=\"bad???[31m\xc3\xa9xxx") != std::string::npos);
    CHECK(text.find(std::string(130, 'x')) == std::string::npos);
}

TEST_CASE("metrics: a family holds at most kMaxSeries series; further values count under other") {
    PathMetrics m;
    for (size_t i = 0; i < PathMetrics::kMaxSeries + 10; ++i) m.add(dropped_for("REASON_" + std::to_string(i)));
    const std::string text = exposition(m);
    CHECK(has_line(text, "wgbpf_drops_total{reason=\"other\"} 10"));
    CHECK(text.find("REASON_" + std::to_string(PathMetrics::kMaxSeries) + "\"") == std::string::npos);
}
