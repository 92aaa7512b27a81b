#pragma once
// The seed article's ping through the tunnel as the timeline builder receives it: route decisions (from
// attributed lookups), netfilter steps, drops and device events, for the timeline and renderer tests.
#include <map>
#include <string>
#include <vector>

#include "route_fixtures.hpp"
#include "route/rule_attribution.hpp"
#include "timeline/timeline_builder.hpp"

namespace wgbpf::test {

constexpr uint32_t kNs = 4026531840u; // route_fixtures' namespace
constexpr const char* kServerKey = "IoYF4pVr2xSAlbAU5X3bMiNAOaVSPbrNDNP1V0hvO3s=";
constexpr uint32_t kServerIndex = 0x9b11b4;  // receiver index of messages to the server
constexpr uint32_t kClientIndex = 0x5c0ffee; // receiver index of messages to us
constexpr uint32_t kPing = 4242;             // tgid of ping
constexpr uint32_t kWireguardGo = 777;       // tgid of wireguard-go

// The client with its sysctls: rp_filter strict, src_valid_mark as wg-quick sets it (or not).
inline NetnsConfig client_config(bool src_valid_mark = true) {
    NetnsConfig cfg = seed_config();
    cfg.ipv4_conf["all"] = Ipv4Conf{1, src_valid_mark ? 1 : 0};
    cfg.ipv4_conf["default"] = Ipv4Conf{1, 0};
    cfg.ipv4_conf["c0"] = Ipv4Conf{1, 0};
    cfg.ipv4_conf["wg0"] = Ipv4Conf{1, 0};
    cfg.ipv4_conf["lo"] = Ipv4Conf{0, 0};
    return cfg;
}

// wg0 of the seed's client: one peer (the server) for everything.
inline WgInterface client_wg0() {
    WgInterface wg;
    wg.name = "wg0";
    wg.implementation = WgImplementation::uapi;
    wg.listen_port = 51820;
    wg.fwmark = kWgMark;
    WgPeer server;
    server.public_key = kServerKey;
    server.endpoint = WgEndpoint{ip("203.0.113.123"), 51820};
    server.allowed_ips = {net("0.0.0.0/0")};
    wg.peers.push_back(server);
    return wg;
}

// Kernel WireGuard's verdict on a received outer packet (a handshake message or data) on wg0.
inline WireguardKernelEvent kernel_verdict(const PacketInfo& outer, WgKernelAction action, WgVerdict verdict,
                                           uint8_t message, uint64_t t) {
    WireguardKernelEvent ev;
    ev.t_ns = t;
    ev.netns = kNs;
    ev.pkt = outer;
    ev.ifindex = kWg0;
    ev.action = action;
    ev.verdict = verdict;
    ev.message = message;
    return ev;
}

// ---- packets

inline PacketInfo icmp_packet(uint64_t id, std::string_view src, std::string_view dst, uint8_t type,
                              uint16_t len = 84) {
    PacketInfo p;
    p.id = id;
    p.is_ip = true;
    p.proto = 1;
    p.len = len;
    p.l3_len = 20;
    p.has_l4 = true;
    p.dport = uint16_t(type << 8);
    p.ip_id = 44121;
    p.src = ip(src);
    p.dst = ip(dst);
    return p;
}

// WireGuard message headers (first 16 bytes of the UDP payload, little endian).
inline std::array<uint8_t, 16> wg_header(uint8_t type, uint32_t a, uint64_t b) {
    std::array<uint8_t, 16> h{};
    h[0] = type;
    for (int i = 0; i < 4; ++i) h[4 + i] = uint8_t(a >> (8 * i));
    for (int i = 0; i < 8; ++i) h[8 + i] = uint8_t(b >> (8 * i));
    return h;
}
inline std::array<uint8_t, 16> wg_data(uint32_t receiver, uint64_t counter) { return wg_header(4, receiver, counter); }
inline std::array<uint8_t, 16> wg_initiation(uint32_t sender) { return wg_header(1, sender, 0); }
inline std::array<uint8_t, 16> wg_response(uint32_t sender, uint32_t receiver) {
    return wg_header(2, sender, receiver);
}

inline PacketInfo udp_packet(uint64_t id, std::string_view src, uint16_t sport, std::string_view dst, uint16_t dport,
                             uint16_t payload_len, const std::array<uint8_t, 16>& payload) {
    PacketInfo p;
    p.id = id;
    p.is_ip = true;
    p.proto = 17;
    p.l3_len = 20;
    p.len = uint16_t(20 + 8 + payload_len);
    p.has_l4 = true;
    p.sport = sport;
    p.dport = dport;
    p.ip_id = 8817;
    p.src = ip(src);
    p.dst = ip(dst);
    p.has_udp_payload = true;
    p.udp_payload = payload;
    return p;
}

// Outer packets of the seed: client -> server and back; `inner_len` padded to 16 plus 32 bytes.
inline uint16_t outer_payload(uint16_t inner_len) { return uint16_t(32 + (inner_len + 15) / 16 * 16); }

inline PacketInfo outer_out(uint64_t id, uint16_t payload_len, const std::array<uint8_t, 16>& payload) {
    PacketInfo p = udp_packet(id, "192.168.178.48", 51820, "203.0.113.123", 51820, payload_len, payload);
    p.oif = kC0;
    return p;
}

inline PacketInfo outer_in(uint64_t id, uint16_t payload_len, const std::array<uint8_t, 16>& payload) {
    PacketInfo p = udp_packet(id, "203.0.113.123", 51820, "192.168.178.48", 51820, payload_len, payload);
    p.iif = kC0;
    return p;
}

// ---- steps

inline NetfilterStep nf_step(const PacketInfo& pkt, NfHook hook, std::string family, std::string table,
                             std::string chain, int32_t priority, uint64_t t_ns, uint32_t mark = 0,
                             std::string ct_state = "new") {
    NetfilterStep s;
    s.t_ns = t_ns;
    s.netns = kNs;
    s.pkt = pkt;
    s.hook = hook;
    s.family = std::move(family);
    s.table = std::move(table);
    s.chain = std::move(chain);
    s.priority = priority;
    s.verdict = NfVerdict::accept;
    s.mark_before = s.mark_after = mark;
    s.ct_state = std::move(ct_state);
    return s;
}

inline NetfilterStep filter_output(const PacketInfo& pkt, uint64_t t, uint32_t mark = 0) {
    return nf_step(pkt, NfHook::output, "inet", "filter", "output", 0, t, mark);
}
inline NetfilterStep postmangle(const PacketInfo& pkt, uint64_t t, uint32_t mark = 0) {
    NetfilterStep s = nf_step(pkt, NfHook::postrouting, "ip", "wg-quick-wg0", "postmangle", -150, t, mark);
    if (mark == kWgMark && pkt.proto == 17) {
        s.ct_mark_after = kWgMark;
        s.rules_that_set = {"meta l4proto udp meta mark 0x0000ca6c ct mark set meta mark"};
    }
    return s;
}
inline NetfilterStep preraw(const PacketInfo& pkt, uint64_t t) {
    NetfilterStep s = nf_step(pkt, NfHook::prerouting, "ip", "wg-quick-wg0", "preraw", -300, t, 0, "none");
    s.ct_state_before = "none"; // before conntrack (-200): the connection's mark is not known there
    return s;
}
// premangle restores the mark from conntrack for UDP (the outer packets).
inline NetfilterStep premangle(const PacketInfo& pkt, uint64_t t, uint32_t ct_mark = 0) {
    NetfilterStep s =
        nf_step(pkt, NfHook::prerouting, "ip", "wg-quick-wg0", "premangle", -150, t, 0, "established reply");
    s.ct_mark_before = s.ct_mark_after = ct_mark;
    if (ct_mark && pkt.proto == 17) {
        s.mark_after = ct_mark;
        s.rules_that_set = {"meta l4proto udp meta mark set ct mark"};
    }
    return s;
}
inline NetfilterStep filter_input(const PacketInfo& pkt, uint64_t t, uint32_t mark = 0) {
    NetfilterStep s = nf_step(pkt, NfHook::input, "inet", "filter", "input", 0, t, mark, "established reply");
    s.ct_mark_before = s.ct_mark_after = pkt.proto == 17 ? kWgMark : 0;
    return s;
}

inline DeviceEvent device(const PacketInfo& pkt, int ifindex, DeviceEvent::Direction dir, uint64_t t_ns,
                          uint32_t tgid = 0) {
    DeviceEvent e;
    e.t_ns = t_ns;
    e.netns = kNs;
    e.tgid = tgid;
    e.pkt = pkt;
    e.ifindex = ifindex;
    e.direction = dir;
    return e;
}
inline DeviceEvent ingress(const PacketInfo& pkt, int ifindex, uint64_t t) {
    return device(pkt, ifindex, DeviceEvent::Direction::ingress, t);
}
inline DeviceEvent egress(const PacketInfo& pkt, int ifindex, uint64_t t, uint32_t tgid = 0) {
    return device(pkt, ifindex, DeviceEvent::Direction::egress, t, tgid);
}

inline DropStep drop_step(const PacketInfo& pkt, std::string reason, std::string location, uint64_t t_ns) {
    DropStep d;
    d.t_ns = t_ns;
    d.netns = kNs;
    d.pkt = pkt;
    d.reason = std::move(reason);
    d.location = std::move(location);
    return d;
}

// ---- route decisions, attributed from the lookups the kernel reports (kernel-notes §1)

inline RouteDecision decide(std::vector<RouteLookup> walk, uint64_t t_ns, uint32_t tgid = 0, uint64_t rx_packet = 0) {
    for (RouteLookup& l : walk) {
        l.t_ns = t_ns;
        l.tgid = tgid;
        l.rx_packet = rx_packet;
    }
    return attribute_walk(walk, client_config());
}

// The inner echo request: local miss, main's default suppressed, table 51820 -> wg0.
inline RouteDecision inner_request_route(uint64_t t, std::string_view dst = "198.51.100.9") {
    Flow f = output_flow("0.0.0.0", dst);
    f.base.proto = 1;
    f.base.dport = 8 << 8;
    return decide({f.miss(255), f.hit(254, kC0, "192.168.178.1"), f.hit(kWgTable, kWg0)}, t, kPing);
}

// The outer UDP packet (SO_MARK 0xca6c): rule 32765 skipped, main -> c0.
inline RouteDecision outer_route(uint64_t t) {
    Flow f = output_flow("0.0.0.0", "203.0.113.123", kWgMark);
    f.base.proto = 17;
    f.base.sport = 51820;
    f.base.dport = 51820;
    return decide({f.miss(255), f.hit(254, kC0, "192.168.178.1"), f.hit(254, kC0, "192.168.178.1")}, t, kWireguardGo);
}

inline RouteDecision outer_input_route(uint64_t t, uint64_t rx) {
    Flow f = input_flow("203.0.113.123", "192.168.178.48", kC0, kWgMark);
    return decide({f.hit(255, kC0)}, t, 0, rx);
}

// rp_filter's reverse lookup for the outer reply: with the mark (src_valid_mark=1) main -> c0; without,
// table 51820 -> wg0.
inline RouteDecision outer_reverse_route(uint64_t t, uint64_t rx, bool with_mark = true) {
    Flow f = reverse_flow("192.168.178.48", "203.0.113.123", with_mark ? kWgMark : 0);
    if (with_mark)
        return decide({f.miss(255), f.hit(254, kC0, "192.168.178.1"), f.hit(254, kC0, "192.168.178.1")}, t, 0, rx);
    return decide({f.miss(255), f.hit(254, kC0, "192.168.178.1"), f.hit(kWgTable, kWg0)}, t, 0, rx);
}

inline RouteDecision inner_input_route(uint64_t t, uint64_t rx) {
    Flow f = input_flow("198.51.100.9", "10.0.0.1", kWg0);
    return decide({f.hit(255, kWg0)}, t, 0, rx);
}

inline RouteDecision inner_reverse_route(uint64_t t, uint64_t rx) {
    Flow f = reverse_flow("10.0.0.1", "198.51.100.9");
    return decide({f.miss(255), f.hit(254, kC0, "192.168.178.1"), f.hit(kWgTable, kWg0)}, t, 0, rx);
}

// ---- a builder that collects what it hands out

struct Collected {
    NetnsConfig config = client_config();
    std::vector<WgInterface> wireguard = {client_wg0()};
    std::vector<PacketTimeline> out;
    TimelineBuilder builder;

    explicit Collected(TimelineLimits limits = {}, bool src_valid_mark = true)
        : config(client_config(src_valid_mark)),
          builder(
              [this](uint32_t netns) {
                  return netns == kNs ? TimelineContext{&config, wireguard} : TimelineContext{};
              },
              [this](PacketTimeline&& t) { out.push_back(std::move(t)); }, limits) {}

    const PacketTimeline* by_id(uint64_t id) const {
        for (const PacketTimeline& t : out)
            if (t.id == id) return &t;
        return nullptr;
    }
};

// Packet ids (keyed skb hashes) of the seed's four packets.
constexpr uint64_t kRequest = 0x1e9d5b0a7c3f0001, kOuterOut = 0x1e9d5b0a7c3f0002;
constexpr uint64_t kOuterIn = 0x1e9d5b0a7c3f0003, kReply = 0x1e9d5b0a7c3f0004;

// Figure 2: the echo request leaves through wg0, wireguard-go sends it encrypted through c0.
inline void feed_outgoing_ping(TimelineBuilder& b, uint64_t t0 = 1'000'000'000) {
    PacketInfo req = icmp_packet(kRequest, "10.0.0.1", "198.51.100.9", 8);
    req.oif = kWg0;
    PacketInfo outer = outer_out(kOuterOut, outer_payload(req.len), wg_data(kServerIndex, 2));
    b.add(inner_request_route(t0));
    b.add(filter_output(req, t0 + 21'000));
    b.add(postmangle(req, t0 + 26'000));
    b.add(egress(req, kWg0, t0 + 31'000, kPing));
    b.add(outer_route(t0 + 148'000));
    b.add(filter_output(outer, t0 + 155'000, kWgMark));
    b.add(postmangle(outer, t0 + 158'000, kWgMark));
    b.add(egress(outer, kC0, t0 + 162'000, kWireguardGo));
}

// Figure 3: the reply arrives on c0 (mark restored, rp_filter, delivered to wireguard-go) and comes out of wg0.
inline void feed_incoming_reply(TimelineBuilder& b, uint64_t t0 = 1'022'000'000) {
    PacketInfo reply = icmp_packet(kReply, "198.51.100.9", "10.0.0.1", 0);
    reply.iif = kWg0;
    reply.ip_id = 43561;
    PacketInfo outer = outer_in(kOuterIn, outer_payload(reply.len), wg_data(kClientIndex, 5));
    b.add(ingress(outer, kC0, t0));
    b.add(preraw(outer, t0 + 5'000));
    b.add(premangle(outer, t0 + 9'000, kWgMark));
    b.add(outer_input_route(t0 + 12'000, kOuterIn));
    b.add(outer_reverse_route(t0 + 14'000, kOuterIn));
    b.add(filter_input(outer, t0 + 20'000, kWgMark));
    b.add(ingress(reply, kWg0, t0 + 130'000));
    b.add(preraw(reply, t0 + 133'000));
    b.add(premangle(reply, t0 + 136'000));
    b.add(inner_input_route(t0 + 139'000, kReply));
    b.add(inner_reverse_route(t0 + 141'000, kReply));
    b.add(filter_input(reply, t0 + 147'000));
}

// The same reply without src_valid_mark: the reverse lookup ignores the restored mark, finds wg0, drop.
inline void feed_rp_filter_failure(TimelineBuilder& b, uint64_t t0 = 2'000'000'000) {
    PacketInfo outer = outer_in(kOuterIn, outer_payload(84), wg_data(kClientIndex, 6));
    b.add(ingress(outer, kC0, t0));
    b.add(preraw(outer, t0 + 5'000));
    b.add(premangle(outer, t0 + 9'000, kWgMark));
    b.add(outer_input_route(t0 + 12'000, kOuterIn));
    b.add(outer_reverse_route(t0 + 14'000, kOuterIn, false));
    b.add(drop_step(outer, "IP_RPFILTER", "ip_rcv_finish_core+0x2c5", t0 + 16'000));
}

// The lab's ping through the tunnel, both ways (tests/data/nftrace/lab_ping.txt traces it): #1 request
// (encapsulated in #2), #3 outer reply (decrypted into #4).
inline std::vector<PacketTimeline> lab_ping_timelines() {
    Collected c;
    feed_outgoing_ping(c.builder);
    feed_incoming_reply(c.builder);
    c.builder.flush_all();
    return c.out;
}

// The lab's interface names, as compare resolves them.
inline std::string lab_interface(int ifindex) { return ifindex == kC0 ? "c0" : ifindex == kWg0 ? "wg0" : ""; }

} // namespace wgbpf::test
