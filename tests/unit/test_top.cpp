#include <catch2/catch_test_macros.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>

#include "golden.hpp"
#include "timeline_fixtures.hpp"
#include "render/top_render.hpp"
#include "top/path_table.hpp"

using namespace wgbpf;
using namespace wgbpf::test;

namespace {

// The seed's four packets (figures 2 and 3), their ping sent at t0.
std::vector<PacketTimeline> seed_ping(uint64_t t0) {
    Collected c;
    feed_outgoing_ping(c.builder, t0);
    feed_incoming_reply(c.builder, t0 + 22'000'000);
    c.builder.flush_all();
    return c.out;
}

std::vector<PacketTimeline> rp_filter_failure() {
    Collected c({}, false);
    feed_rp_filter_failure(c.builder);
    c.builder.flush_all();
    return c.out;
}

const PacketTimeline& with_outcome(const std::vector<PacketTimeline>& ts, Outcome o) {
    for (const PacketTimeline& t : ts)
        if (t.outcome == o) return t;
    FAIL("no timeline with outcome " << name_of(o));
    return ts.front();
}

// The same packet from another source address, everywhere it is shown.
PacketTimeline from_source(PacketTimeline t, const char* src) {
    const IpAddress a = IpAddress::parse(src).value();
    t.pkt.src = a;
    for (TimelineStep& s : t.steps) {
        if (auto* n = std::get_if<NetfilterStep>(&s)) n->pkt.src = a;
        if (auto* d = std::get_if<DropStep>(&s)) d->pkt.src = a;
    }
    return t;
}

template <class Hop>
std::vector<Hop> hops_of(const PathSignature& p) {
    std::vector<Hop> out;
    for (const PathHop& h : p.hops)
        if (const Hop* x = std::get_if<Hop>(&h)) out.push_back(*x);
    return out;
}

} // namespace

TEST_CASE("top: a path is what the kernel did with the packet, not which packet it was") {
    std::vector<PacketTimeline> first = seed_ping(1'000'000'000);
    std::vector<PacketTimeline> later = seed_ping(9'000'000'000);
    REQUIRE(first.size() == later.size());
    const PacketTimeline& request = with_outcome(first, Outcome::encapsulated);
    PathSignature p = path_of(request);
    // Figure 2: rule 32765 sends it to table 51820 and wg0; WireGuard encrypts it for the peer.
    auto routes = hops_of<RouteHop>(p);
    REQUIRE(!routes.empty());
    CHECK(routes.front().rule == 32765u);
    CHECK(routes.front().table == 51820u);
    CHECK(routes.front().oif == "wg0");
    auto wg = hops_of<WireguardHop>(p);
    REQUIRE(wg.size() == 1);
    CHECK(wg[0].action == WgAction::encrypt);
    CHECK(!wg[0].peer.empty());
    CHECK(!p.incomplete);

    // The same story at another time, with other ids and addresses: the same path.
    for (size_t i = 0; i < first.size(); ++i) CHECK(path_of(first[i]) == path_of(later[i]));
    PacketTimeline other = from_source(request, "10.0.0.7");
    other.pkt.ip_id ^= 0xffff;
    other.id += 100;
    CHECK(path_of(other) == p);

    // Another verdict, another mark, a gap: another path.
    PacketTimeline refused = request;
    for (TimelineStep& s : refused.steps)
        if (auto* n = std::get_if<NetfilterStep>(&s)) n->verdict = NfVerdict::drop;
    CHECK(path_of(refused) != p);
    PacketTimeline gap = request;
    gap.gaps.push_back("3 netfilter events lost around here");
    CHECK(path_of(gap) != p);
    CHECK(path_of(gap).incomplete);
}

TEST_CASE("top: the seed's marks, source NAT and rp_filter failure are part of the path") {
    std::vector<PacketTimeline> seed = seed_ping(1'000'000'000);
    // The outer reply: premangle restores the WireGuard mark from conntrack (figure 3).
    const PacketTimeline& outer_in = with_outcome(seed, Outcome::decapsulated);
    bool mark_set = false;
    for (const ChainHop& c : hops_of<ChainHop>(path_of(outer_in))) mark_set |= c.mark_set.has_value();
    CHECK(mark_set);

    PacketTimeline nat = with_outcome(seed, Outcome::sent);
    CHECK(hops_of<NatHop>(path_of(nat)).empty());
    nat.notes.push_back("src rewritten after routing: 192.168.178.48 -> 203.0.113.1 (source NAT in postrouting)");
    auto rewrites = hops_of<NatHop>(path_of(nat));
    REQUIRE(rewrites.size() == 1);
    CHECK(rewrites[0].source);

    // A chain that rewrites the destination: the next chain sees it. A port alone is not an address rewrite.
    PacketTimeline dnat = with_outcome(seed, Outcome::encapsulated);
    std::vector<NetfilterStep*> chains;
    for (TimelineStep& st : dnat.steps)
        if (auto* n = std::get_if<NetfilterStep>(&st)) chains.push_back(n);
    REQUIRE(chains.size() >= 2);
    PacketTimeline port_only = dnat;
    for (TimelineStep& st : port_only.steps)
        if (auto* n = std::get_if<NetfilterStep>(&st); n && n != std::get_if<NetfilterStep>(&port_only.steps.front()))
            n->pkt.sport += 1000;
    CHECK(hops_of<NatHop>(path_of(port_only)).empty());
    chains.back()->pkt.dst = IpAddress::parse("192.0.2.80").value();
    auto dst = hops_of<NatHop>(path_of(dnat));
    REQUIRE(dst.size() == 1);
    CHECK(!dst[0].source);

    // A chain (bracketed) whose next hook saw another source: rewritten there, after the chain, once.
    PacketTimeline snat = with_outcome(seed, Outcome::encapsulated);
    std::vector<NetfilterStep*> snat_chains;
    for (TimelineStep& st : snat.steps)
        if (auto* n = std::get_if<NetfilterStep>(&st)) snat_chains.push_back(n);
    REQUIRE(snat_chains.size() >= 2);
    const IpAddress translated = IpAddress::parse("203.0.113.9").value();
    snat_chains.front()->pkt_after = snat_chains.front()->pkt;
    snat_chains.front()->pkt_after.src = translated;
    for (size_t i = 1; i < snat_chains.size(); ++i) snat_chains[i]->pkt.src = translated;
    PathSignature sp = path_of(snat);
    auto snat_hops = hops_of<NatHop>(sp);
    REQUIRE(snat_hops.size() == 1);
    CHECK(snat_hops[0].source);
    auto at = std::find_if(sp.hops.begin(), sp.hops.end(),
                           [](const PathHop& h) { return std::holds_alternative<NatHop>(h); });
    REQUIRE(at != sp.hops.begin());
    CHECK(std::holds_alternative<ChainHop>(*(at - 1)));
    // Conntrack's translation for an established connection (no chain ran) is named as such.
    snat_chains.front()->family.clear();
    snat_chains.front()->conntrack_nat = std::vector<std::string>{"ip nat postrouting"};
    auto named = hops_of<ChainHop>(path_of(snat));
    REQUIRE(!named.empty());
    CHECK(named.front().chain == "conntrack NAT");

    // A packet sent with no route lookup seen: a hop saying so, not a gap in the path.
    PacketTimeline cached = with_outcome(seed, Outcome::sent);
    cached.gaps.push_back("no route lookup seen for it: a cached route (connected socket, WireGuard's per-peer "
                          "cache) or lost route events");
    PathSignature c = path_of(cached);
    CHECK(!c.incomplete);
    CHECK(hops_of<RouteNotSeenHop>(c).size() == 1);

    std::vector<PacketTimeline> failing = rp_filter_failure();
    bool failed = false;
    for (const PacketTimeline& t : failing) {
        PathSignature p = path_of(t);
        failed |= p.rp_filter_failed();
        // dropped by rp_filter before WireGuard took it: its message was never decrypted, and the path says so
        if (p.rp_filter_failed())
            for (const WireguardHop& w : hops_of<WireguardHop>(p)) CHECK(w.before_decryption);
    }
    CHECK(failed);
    // ... while the delivered reply's outer packet was decrypted
    for (const WireguardHop& w : hops_of<WireguardHop>(path_of(with_outcome(seed, Outcome::decapsulated))))
        CHECK_FALSE(w.before_decryption);
}

TEST_CASE("top: packets counted by path, rates over the interval, highest first; bounded") {
    PathTable table(3);
    for (int i = 0; i < 3; ++i)
        for (const PacketTimeline& t : seed_ping(1'000'000'000 + uint64_t(i) * 1'000'000'000)) table.add(t);
    for (const PacketTimeline& t : rp_filter_failure()) table.add(t);
    TopSnapshot s = table.snapshot(5'000'000'000, 2.0);
    CHECK(s.paths == 3);
    CHECK(s.max_paths == 3);
    const uint64_t seed_packets = seed_ping(0).size();
    const uint64_t failing_packets = rp_filter_failure().size();
    CHECK(s.packets == 3 * seed_packets + failing_packets);
    REQUIRE(s.rows.size() == 3);
    uint64_t counted = s.other.packets;
    for (const PathRow& r : s.rows) {
        counted += r.counts.packets;
        CHECK(r.counts.rate_pps == double(r.counts.packets) / 2.0);
        CHECK(r.counts.last_seen_ns > 0);
    }
    CHECK(counted == s.packets); // nothing counted twice, nothing left out
    CHECK(s.other.packets > 0);  // the fourth and later paths
    for (size_t i = 1; i < s.rows.size(); ++i) CHECK(s.rows[i - 1].counts.rate_pps >= s.rows[i].counts.rate_pps);

    // The next interval saw nothing: rates fall to 0, counts stay.
    TopSnapshot quiet = table.snapshot(6'000'000'000, 1.0);
    for (const PathRow& r : quiet.rows) {
        CHECK(r.counts.rate_pps == 0);
        CHECK(r.counts.packets > 0);
    }
    CHECK(quiet.packets == s.packets);
}

TEST_CASE("top renders as text and JSON (golden)") {
    PathTable table;
    for (int i = 0; i < 2; ++i)
        for (const PacketTimeline& t : seed_ping(1'000'000'000 + uint64_t(i) * 1'000'000'000)) table.add(t);
    for (const PacketTimeline& t : rp_filter_failure()) table.add(t);
    PacketTimeline gap = seed_ping(4'000'000'000).front();
    gap.gaps.push_back("2 route events lost around here");
    table.add(gap);
    TopSnapshot s = table.snapshot(4'500'000'000, 1.0);
    TopTextOptions o{0, true, 3.5, 2};
    std::string text = render_top_text(s, o, TextStyle{});
    check_golden("top.txt", text);
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    write_top_json(w, s, o);
    std::string json(buffer.GetString(), buffer.GetSize());
    check_golden("top.jsonl", json + "\n");
    nlohmann::json j = nlohmann::json::parse(json);
    CHECK(j["kind"] == "top");
    CHECK(j["paths"].size() == s.rows.size());
    CHECK(j["incomplete_packets"] == 1);

    // Names from the kernel reach the terminal escaped.
    PathTable odd;
    PacketTimeline t = seed_ping(1'000'000'000).front();
    for (TimelineStep& st : t.steps)
        if (auto* n = std::get_if<NetfilterStep>(&st)) n->chain = "evil\033[8m\nfake row";
    odd.add(t);
    TopTextOptions plain{0, false, 1, 0};
    std::string shown = render_top_text(odd.snapshot(2'000'000'000, 1.0), plain, TextStyle{});
    CHECK(shown.find('\033') == std::string::npos);
    CHECK(std::count(shown.begin(), shown.end(), '\n') == 3); // header, column names, one row

    // What narrowed the count is said.
    plain.expression = "icmp";
    plain.sample_every = 4;
    std::string narrowed = render_top_text(odd.snapshot(3'000'000'000, 1.0), plain, TextStyle{});
    CHECK(narrowed.find("counting only the packets 'icmp' picks") != std::string::npos);
    CHECK(narrowed.find("1 flow in 4") != std::string::npos);
}
