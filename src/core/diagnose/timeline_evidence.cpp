#include "diagnose/timeline_evidence.hpp"

#include <fmt/format.h>
#include <netinet/in.h>

#include <algorithm>

#include "diagnose/static_checks.hpp"
#include "route/route_predict.hpp"
#include "timeline/wireguard_link.hpp"

namespace wgbpf {
namespace {

// An outer packet: its WireGuard step names an endpoint, and it is not an inner packet linked to one.
const WireguardStep* outer_step(const PacketTimeline& t) {
    if (t.encapsulated_in || t.decapsulated_from) return nullptr;
    for (const TimelineStep& s : t.steps)
        if (const WireguardStep* w = std::get_if<WireguardStep>(&s); w && !w->endpoint.empty()) return w;
    return nullptr;
}

std::string last_egress(const PacketTimeline& t) {
    for (auto it = t.steps.rbegin(); it != t.steps.rend(); ++it)
        if (const DeviceStep* d = std::get_if<DeviceStep>(&*it); d && d->direction == DeviceDirection::egress)
            return d->dev;
    return "";
}

// The device a packet left on or, when its departure was not seen (fragmented: the kernel sent new buffers in
// its place), the one its last output route or postrouting chain named (kernel WireGuard's cached route makes
// no lookup).
std::string egress_device(const PacketTimeline& t, const NetnsConfig& cfg) {
    if (std::string dev = last_egress(t); !dev.empty()) return dev;
    for (auto it = t.steps.rbegin(); it != t.steps.rend(); ++it) {
        if (const RouteDecision* r = std::get_if<RouteDecision>(&*it);
            r && r->direction == RouteDirection::output && r->result == LookupResult::hit)
            return r->result_oif;
        if (const NetfilterStep* n = std::get_if<NetfilterStep>(&*it);
            n && n->hook == NfHook::postrouting && n->pkt.oif)
            return cfg.link_name(n->pkt.oif);
    }
    return "";
}

// Where the packet arrived, when its arrival was seen.
const DeviceStep* first_ingress(const PacketTimeline& t) {
    for (const TimelineStep& s : t.steps)
        if (const DeviceStep* d = std::get_if<DeviceStep>(&s); d && d->direction == DeviceDirection::ingress) return d;
    return nullptr;
}

std::string nf_chain(const NetfilterStep& n) { return n.family + " " + n.table + " " + n.chain; }

// Where a packet was last seen, in words.
std::string where(const PacketTimeline& t) {
    for (auto it = t.steps.rbegin(); it != t.steps.rend(); ++it) {
        if (const NetfilterStep* n = std::get_if<NetfilterStep>(&*it); n && n->verdict == NfVerdict::drop)
            return fmt::format("#{} dropped by chain {} ({})", t.id, nf_chain(*n), hook_name(n->hook));
        if (const DropStep* d = std::get_if<DropStep>(&*it))
            return fmt::format("#{} dropped ({}{})", t.id, d->reason, d->chain.empty() ? "" : " in " + d->chain);
    }
    if (std::string dev = last_egress(t); !dev.empty()) return fmt::format("#{} left on {}", t.id, dev);
    return fmt::format("#{} {}", t.id, name_of(t.outcome));
}

// IN_DEV_FORWARD: the incoming device's own forwarding sysctl (conf/all sets every device's when written).
bool forwarding_off(const NetnsConfig& cfg, const std::string& dev) {
    auto own = cfg.ipv4_conf.find(dev);
    if (own != cfg.ipv4_conf.end() && own->second.forwarding) return *own->second.forwarding == 0;
    return false; // not known: never claimed
}

// A broadcast address of this host (table local holds it as a broadcast route).
bool is_broadcast(const NetnsConfig* cfg, const IpAddress& a) {
    if (a.family == Family::ipv4 && a.bytes[0] == 255 && a.bytes[1] == 255 && a.bytes[2] == 255 && a.bytes[3] == 255)
        return true;
    if (!cfg) return false;
    for (size_t i : cfg->route_index().containing(255, a)) {
        const Route& r = cfg->routes[i];
        if (r.type == RouteType::broadcast && r.dst.length == 32) return true;
    }
    return false;
}

FindingKind kind_of(const WireguardStep& w) {
    if (w.verdict == "no_peer") return FindingKind::no_peer_for_destination;
    if (w.verdict == "no_endpoint") return FindingKind::peer_without_endpoint;
    if (w.verdict == "src_not_allowed") return FindingKind::source_not_allowed;
    if (w.verdict == "bad_mac") return FindingKind::handshake_bad_mac;
    if (w.verdict == "rejected" || w.verdict == "unknown_key" || w.verdict == "flood" ||
        w.verdict == "timestamp_refused")
        return FindingKind::handshake_rejected;
    if (w.verdict == "gave_up" || w.verdict == "peer_removed" || w.verdict == "device_down" || w.verdict == "purged")
        return FindingKind::queued_packets_dropped;
    if (w.verdict == "unknown_index") return FindingKind::unknown_session;
    if (w.verdict == "invalid") return FindingKind::data_not_authentic;
    if (w.verdict == "not_delivered") return FindingKind::data_not_delivered;
    if (w.verdict == "cookie_sent" || w.verdict == "ratelimited") return FindingKind::handshake_under_load;
    return FindingKind::dropped_inside_wireguard;
}

std::string change_for(FindingKind k, const WireguardStep& w, const PacketTimeline& t) {
    const std::string& i = w.interface;
    switch (k) {
    case FindingKind::no_peer_for_destination:
        return fmt::format("add {}'s prefix to the allowed IPs of the peer that should carry it (wg set {} peer KEY "
                           "allowed-ips ...), or route it elsewhere than {}",
                           t.pkt.dst.to_string(), i, i);
    case FindingKind::peer_without_endpoint:
        return fmt::format("set its endpoint (wg set {} peer {} endpoint HOST:PORT), or let it send first (a server "
                           "learns endpoints from its peers' packets)",
                           i, w.peer.empty() ? std::string("KEY") : w.peer);
    case FindingKind::source_not_allowed:
        if (w.dropped.find("; it is in peer") != std::string::npos)
            return fmt::format("an allowed IP given to two peers stays only with the last one set: give it back to "
                               "peer {} (wg set {} peer {} allowed-ips ...) and remove it from the other peer",
                               short_key(w.peer), i, w.peer);
        return fmt::format("add the sender's tunnel address to peer {}'s allowed IPs on {} (wg set {} peer {} "
                           "allowed-ips <its current ones>,ADDR/32), or make the sender use an address it is allowed",
                           short_key(w.peer), i, i, w.peer);
    case FindingKind::handshake_bad_mac:
        return fmt::format("the sender at {} has a wrong public key for {}: it must use this interface's public key "
                           "(wg show {} public-key)",
                           w.endpoint, i, i);
    case FindingKind::handshake_rejected:
        if (w.verdict == "unknown_key")
            return fmt::format("add the sender's public key as a peer of {} (wg set {} peer KEY allowed-ips ...)", i,
                               i);
        if (w.action == WgAction::handshake_response)
            return fmt::format("make the preshared keys of both sides match (wg set {} peer {} preshared-key FILE)", i,
                               w.peer.empty() ? std::string("KEY") : w.peer);
        if (w.verdict == "flood")
            return "none if it stops; if it persists, find what duplicates packets on the path (a copy arrives within "
                   "20 ms), or another host sending with that peer's private key (give each host its own)";
        return "if two hosts use the same private key, give each its own; if the sender's clock went back (a restored "
               "snapshot, no clock source), fix its clock or restart its interface; a replayed initiation from "
               "elsewhere needs no change";
    case FindingKind::queued_packets_dropped:
        if (w.verdict == "gave_up")
            return fmt::format("make the handshake with peer {} complete: see where its initiations went (the "
                               "handshake finding, or `wgbpf diagnose` on the peer's side)",
                               short_key(w.peer));
        if (w.verdict == "purged")
            return fmt::format("find why WireGuard dropped peer {}'s queue (its cause was not read): a handshake that "
                               "never completed, or the peer or interface taken down",
                               short_key(w.peer));
        return "none: the interface or peer was taken down, and the packets waiting for its handshake went with it";
    case FindingKind::unknown_session:
        return "none needed if it recovers: the sender makes a new handshake (REKEY_TIMEOUT, 5 s); if it persists, "
               "restart the sender's interface";
    case FindingKind::handshake_under_load:
        return "a handshake flood: nothing to change on WireGuard; find who sends the initiations";
    case FindingKind::data_not_delivered:
        return "none if rare (a duplicated or very late packet: multipath, a retransmitting middlebox); if it "
               "persists, find what duplicates or holds back packets on the path";
    case FindingKind::data_not_authentic:
        return "none if it stops (a late packet of an expired session); if it persists, something on the path alters "
               "the packets, or someone sends forged ones: the configuration is not the cause (handshakes authenticate "
               "both sides)";
    default:
        return fmt::format("check peer {}'s allowed IPs on {} against the sender's tunnel address (wg show {} "
                           "allowed-ips): an allowed IP given to two peers stays only with the last one set",
                           short_key(w.peer), i, i);
    }
}

} // namespace

PeerHealth& TimelineEvidence::peer(const std::string& interface, const std::string& key, const std::string& endpoint) {
    std::string who = key.empty() ? "endpoint " + endpoint : key;
    auto [it, fresh] = peers_.try_emplace({interface, who});
    if (fresh) {
        if (peers_.size() > kMaxPeers) { // bounded: a scan from many endpoints does not grow it forever
            peers_.erase(it);
            ++untracked_;
            untracked_peer_ = {};
            return untracked_peer_;
        }
        it->second.interface = interface;
        it->second.peer = key;
    }
    if (!endpoint.empty()) it->second.endpoint = endpoint;
    return it->second;
}

void TimelineEvidence::Sample::add(uint64_t id, size_t examples) {
    ++count;
    if (ids.size() < examples) ids.push_back(id);
}

void TimelineEvidence::Sample::merge(const Sample& other, size_t examples) {
    count += other.count;
    for (uint64_t id : other.ids)
        if (ids.size() < examples) ids.push_back(id);
}

std::string TimelineEvidence::Sample::text(std::string_view what) const {
    std::string list;
    for (uint64_t id : ids) list += (list.empty() ? "#" : ", #") + std::to_string(id);
    return fmt::format("{} packet{}{}: {}{}", count, count == 1 ? "" : "s", what, list,
                       count > ids.size() ? ", ..." : "");
}

TimelineEvidence::Group* TimelineEvidence::count(FindingKind kind, const std::string& key, const PacketTimeline& t,
                                                 const std::function<Finding()>& make) {
    auto [it, fresh] = groups_.try_emplace({kind, key});
    if (fresh) {
        if (groups_.size() > 1024) {
            groups_.erase(it);
            return nullptr;
        }
        it->second.finding = make();
        it->second.finding.kind = kind;
    }
    it->second.sample.add(t.id, examples_);
    return &it->second;
}

void TimelineEvidence::wireguard_step(const PacketTimeline& t, const WireguardStep& w, const NetnsConfig* cfg) {
    // A message this host dropped before WireGuard took it (a chain, rp_filter) was not received by WireGuard: its
    // drop is a finding of its own.
    bool outer = outer_step(t) == &w && !not_taken_by_wireguard(w, t);
    if (outer) {
        PeerHealth& h = peer(w.interface, w.peer, w.endpoint);
        bool out = w.direction == WgDirection::out;
        if (w.action == WgAction::handshake_initiation) {
            if (out) {
                ++h.initiations_sent;
                h.last_initiation_id = t.id;
                h.last_initiation_where = where(t);
            } else {
                ++h.initiations_received;
            }
        } else if (w.action == WgAction::handshake_response) {
            ++(out ? h.responses_sent : h.responses_received);
            if (w.verdict.empty() || w.verdict == "accepted")
                h.last_handshake_ns = std::max(h.last_handshake_ns, w.t_ns);
        } else if (w.action == WgAction::cookie_reply) {
            ++(out ? h.cookies_sent : h.cookies_received);
        } else if (w.dropped.empty()) { // refused data is not traffic that worked
            ++(out ? h.data_sent : h.data_received);
        }
        if (!w.dropped.empty() && is_handshake(w.action)) ++h.rejected;
    }
    if (w.dropped.empty()) return;
    FindingKind kind = kind_of(w);
    // WireGuard carries no multicast: the kernel's own (IPv6 router solicitations, MLD) sent into the interface
    // are dropped by design, on every healthy host.
    if (kind == FindingKind::no_peer_for_destination &&
        (t.pkt.dst.is_multicast() || t.pkt.dst.is_unspecified() || is_broadcast(cfg, t.pkt.dst)))
        return;
    std::string key = w.interface + " " + (w.peer.empty() ? w.endpoint : w.peer);
    Group* g = count(kind, key, t, [&] {
        Finding f;
        f.interface = w.interface;
        f.peer = w.peer;
        f.certainty = w.inferred ? Certainty::likely : Certainty::certain;
        f.subject = w.interface + (w.peer.empty() ? (w.endpoint.empty() ? "" : " endpoint " + w.endpoint)
                                                  : " peer " + short_key(w.peer));
        f.summary =
            fmt::format("WireGuard ({}) dropped{}: {}", w.interface, w.inferred ? " (inferred)" : "", w.dropped);
        f.change = change_for(kind_of(w), w, t);
        // An operator's act, not a fault: the queue goes with the interface or peer taken down.
        f.note = kind == FindingKind::queued_packets_dropped && w.verdict != "gave_up" && w.verdict != "purged";
        return f;
    });
    if (g && w.peer.empty()) g->endpoint = w.endpoint;
}

void TimelineEvidence::compare_route(const PacketTimeline& t, const RouteDecision& d, const NetnsConfig& cfg) {
    if (d.reroute || !d.complete || d.result != LookupResult::hit || !d.table) return;
    if (d.direction == RouteDirection::input) return; // the flow's iif decides; predicted only for this host's lookups
    RouteLookup flow = output_flow(d.dst, d.mark, d.proto, d.sport, d.dport);
    flow.direction = d.direction;
    flow.src = d.src;
    if (const Link* oif = d.oif.empty() ? nullptr : cfg.link_by_name(d.oif)) flow.oif = oif->ifindex;
    RouteDecision predicted = predict_route(flow, cfg);
    ++routes_compared_;
    if (predicted.result == d.result && predicted.table == d.table && predicted.result_oif == d.result_oif) return;
    std::string key = fmt::format("{} {} mark {:#x}", direction_name(d.direction), d.dst.to_string(), d.mark);
    count(FindingKind::route_differs_from_prediction, key, t, [&] {
        Finding f;
        f.note = true;
        f.subject = fmt::format("{} route to {}", direction_name(d.direction), d.dst.to_string());
        f.summary = fmt::format("the kernel's {} route decision for {} (mark {:#x}) differs from what the "
                                "configuration wgbpf read predicts",
                                direction_name(d.direction), d.dst.to_string(), d.mark);
        f.evidence = {"kernel: " + decision_evidence(d, cfg), "predicted: " + decision_evidence(predicted, cfg)};
        f.change = "none on the host: the configuration changed while watching, or a selector wgbpf does not model "
                   "(l3mdev, uid) decided; compare with `ip rule` and `ip route show table all`";
        return f;
    });
}

void TimelineEvidence::add(const PacketTimeline& t, const NetnsConfig* cfg) {
    ++timelines_;
    forwarded(t);
    if (t.pkt.is_ip)
        if (const DeviceStep* in = first_ingress(t)) {
            auto [it, fresh] = inner_sources_.try_emplace({in->dev, t.pkt.src});
            if (fresh && inner_sources_.size() > 4096) inner_sources_.erase(it);
            else ++it->second;
        }
    for (const TimelineStep& s : t.steps) last_ns_ = std::max(last_ns_, step_time(s));
    const WireguardStep* outer = outer_step(t);
    for (const TimelineStep& s : t.steps) {
        if (const WireguardStep* w = std::get_if<WireguardStep>(&s)) wireguard_step(t, *w, cfg);
        if (const NetfilterStep* n = std::get_if<NetfilterStep>(&s); n && n->verdict == NfVerdict::drop && outer) {
            count(FindingKind::outer_dropped_by_firewall, outer->interface + " " + nf_chain(*n), t, [&] {
                Finding f;
                f.subject = outer->interface + " endpoint " + outer->endpoint;
                f.summary =
                    fmt::format("WireGuard's outer packets (udp, endpoint {}) were dropped by chain {} ({} hook)",
                                outer->endpoint, nf_chain(*n), hook_name(n->hook));
                if (!n->rule.empty()) f.evidence.push_back("rule: " + n->rule);
                else f.evidence.push_back("the chain's policy, or a rule wgbpf did not identify");
                f.change = fmt::format("accept WireGuard's UDP port in chain {} before the rule that drops it "
                                       "(e.g. udp dport {} accept)",
                                       nf_chain(*n), t.pkt.dport);
                return f;
            });
        }
        if (const RpFilterStep* r = std::get_if<RpFilterStep>(&s); r && r->result == RpFilterResult::fail) {
            count(FindingKind::rp_filter_failed, r->iif, t, [&] {
                Finding f;
                f.subject = r->iif;
                f.summary = "rp_filter dropped packets arriving on " + r->iif + ": " + r->explanation;
                f.evidence = {fmt::format(
                    "rp_filter {} on {}, reverse route via {}, lookup mark {:#x}, src_valid_mark={}", name_of(r->mode),
                    r->iif, r->reverse_oif.empty() ? "(none)" : r->reverse_oif, r->mark, r->src_valid_mark ? 1 : 0)};
                f.change = !r->src_valid_mark ? "sysctl -w net.ipv4.conf.all.src_valid_mark=1 (the reverse lookup then "
                                                "uses the packet's mark, as wg-quick sets it)"
                                              : fmt::format("sysctl -w net.ipv4.conf.{}.rp_filter=2 (loose), or route "
                                                            "replies' sources back through {}",
                                                            r->iif, r->iif);
                return f;
            });
        }
        // Too big for a hop: WireGuard's own outer packets only (a forwarded DF packet is path-MTU discovery at work).
        if (const DropStep* d = std::get_if<DropStep>(&s);
            d && d->reason == "PKT_TOO_BIG" && outer && outer->direction == WgDirection::out) {
            count(FindingKind::outer_too_big, "drop " + d->location, t, [&] {
                Finding f;
                f.subject = outer ? outer->interface : std::string("packets");
                f.summary = fmt::format("packets of {} bytes were dropped as too big for their path (PKT_TOO_BIG{})",
                                        t.pkt.len, d->location.empty() ? "" : " at " + d->location);
                f.change = "lower the WireGuard interface's MTU to the path's MTU minus 60 (IPv4) or 80 (IPv6)";
                return f;
            });
        }
        if (const RouteDecision* r = std::get_if<RouteDecision>(&s); r && cfg) compare_route(t, *r, *cfg);
        if (const RouteDecision* r = std::get_if<RouteDecision>(&s); r && r->direction == RouteDirection::output &&
                                                                     r->proto == IPPROTO_UDP &&
                                                                     r->result == LookupResult::hit && cfg) {
            auto [it, fresh] = udp_routes_.try_emplace({r->dst, r->dport, r->result_oif});
            if (fresh && udp_routes_.size() > 1024) udp_routes_.erase(it);
            else {
                if (fresh) it->second.decision = decision_evidence(*r, *cfg);
                it->second.sample.add(t.id, examples_);
            }
        }
    }
    if (!cfg) return;
    // An outer packet larger than the device it left on: fragmented (or refused, with DF).
    if (outer && outer->direction == WgDirection::out) {
        std::string dev = egress_device(t, *cfg);
        const Link* link = dev.empty() ? nullptr : cfg->link_by_name(dev);
        const Link* tunnel = cfg->link_by_name(outer->interface);
        // One WireGuard message is at most the tunnel's MTU + 32 bytes (+ 16 of padding): a longer UDP payload is
        // several (UDP GSO, as wireguard-go sends), segmented before the device: not too big.
        unsigned ip_udp = t.pkt.family == Family::ipv4 ? 28 : 48;
        bool one_message = tunnel && tunnel->mtu && t.pkt.len <= tunnel->mtu + 48 + ip_udp;
        if (link && link->mtu && one_message && t.pkt.len > link->mtu)
            count(FindingKind::outer_too_big, dev, t, [&] {
                Finding f;
                f.subject = outer->interface + " via " + dev;
                f.summary = fmt::format("outer packets of {} bytes were sent through {}, whose MTU is {}: the kernel "
                                        "fragments them (a path that drops fragments loses them)",
                                        t.pkt.len, dev, link->mtu);
                f.change = fmt::format("ip link set dev {} mtu {}", outer->interface,
                                       link->mtu - (t.pkt.family == Family::ipv4 ? 60 : 80));
                return f;
            });
    }
    // A packet to forward, refused because forwarding is off on the device it came in on.
    if (t.outcome == Outcome::dropped && t.pkt.family == Family::ipv4)
        for (const TimelineStep& s : t.steps)
            if (const RouteDecision* r = std::get_if<RouteDecision>(&s);
                r && r->direction == RouteDirection::input && r->result == LookupResult::hit &&
                r->route_type == RouteType::unicast && forwarding_off(*cfg, r->iif)) {
                count(FindingKind::forwarding_off, "ipv4", t, [&] {
                    Finding f;
                    f.subject = "net.ipv4.conf." + r->iif + ".forwarding";
                    f.summary = fmt::format("packets arriving on {} to be forwarded (e.g. to {} via {}) were dropped: "
                                            "IPv4 forwarding is off",
                                            r->iif, r->dst.to_string(), r->result_oif);
                    f.change = fmt::format("sysctl -w net.ipv4.conf.{}.forwarding=1 (net.ipv4.ip_forward=1 for every "
                                           "device; and allow the forward chain)",
                                           r->iif);
                    return f;
                });
                break;
            }
}

namespace {

bool is_private(const IpAddress& a) {
    if (a.family == Family::ipv6) return (a.bytes[0] & 0xfe) == 0xfc; // fc00::/7
    return a.bytes[0] == 10 || (a.bytes[0] == 172 && (a.bytes[1] & 0xf0) == 16) ||
           (a.bytes[0] == 192 && a.bytes[1] == 168);
}

bool source_rewritten(const PacketTimeline& t) {
    auto said = [](const std::vector<std::string>& notes) {
        return std::any_of(notes.begin(), notes.end(),
                           [](const std::string& n) { return n.starts_with("src rewritten"); });
    };
    if (said(t.notes)) return true;
    return std::any_of(t.steps.begin(), t.steps.end(), [&](const TimelineStep& s) {
        if (const NetfilterStep* n = std::get_if<NetfilterStep>(&s)) return said(n->notes);
        if (const RouteDecision* r = std::get_if<RouteDecision>(&s)) return said(r->notes);
        return false;
    });
}

} // namespace

void TimelineEvidence::forwarded(const PacketTimeline& t) {
    if (!t.pkt.is_ip || t.steps.empty()) return;
    // A reply to a candidate flow: the way back works for that tunnel and uplink.
    if (auto back = candidate_flows_.find({t.pkt.dst, t.pkt.src}); back != candidate_flows_.end())
        answered_.insert(back->second);
    const DeviceStep* in = first_ingress(t);
    std::string out = last_egress(t);
    if (t.outcome != Outcome::forwarded || !in || out.empty() || out == in->dev) return;
    if (!is_private(t.pkt.src) || is_private(t.pkt.dst) || source_rewritten(t)) return;
    auto [it, fresh] = unnatted_.try_emplace({in->dev, out, t.pkt.src, t.pkt.dst});
    if (fresh && unnatted_.size() > 1024) {
        unnatted_.erase(it);
        return;
    }
    if (fresh) candidate_flows_[{t.pkt.src, t.pkt.dst}] = {in->dev, out};
    it->second.sample.add(t.id, examples_);
    it->second.last_ns = std::max(it->second.last_ns, step_time(t.steps.front()));
}

bool TimelineEvidence::reached_elsewhere(const WgInterface& w, const WgPeer& p) const {
    bool came_out = false;
    for (const auto& [key, n] : inner_sources_)
        if (key.first == w.name && peer_for_address(w, key.second) == &p) came_out = true;
    if (!came_out) return false;
    for (const auto& [key, h] : peers_)
        if (h.interface == w.name && (h.peer == p.public_key || (p.endpoint && h.endpoint == p.endpoint->to_string())))
            return false; // its outer packets are here: the prediction is about this namespace's path
    return true;
}

std::vector<PeerHealth> TimelineEvidence::health() const {
    std::vector<PeerHealth> out;
    for (const auto& [key, h] : peers_) out.push_back(h);
    return out;
}

std::vector<Finding> TimelineEvidence::findings(const std::vector<WgInterface>& wireguard, uint64_t end_ns) const {
    const uint64_t end = std::max(end_ns, last_ns_);
    std::vector<Finding> out;
    for (const auto& [key, g] : groups_) {
        Finding f = g.finding;
        // A refused handshake message from a peer that also completed a handshake (or sent data) while watched:
        // a duplicate, a crossed initiation, a stray: worth a note, not a fault.
        f.count = g.sample.count;
        if (f.kind == FindingKind::handshake_bad_mac || f.kind == FindingKind::handshake_rejected ||
            f.kind == FindingKind::handshake_under_load || f.kind == FindingKind::unknown_session) {
            for (const auto& [pk, h] : peers_) {
                bool same =
                    h.interface == f.interface && (f.peer.empty() ? h.endpoint == g.endpoint : h.peer == f.peer);
                if (same && (h.last_handshake_ns || h.data_received)) {
                    f.note = true;
                    f.evidence.push_back("a handshake with it completed (or data came) while watching: a duplicate, "
                                         "crossed or stale message, likely harmless");
                    break;
                }
            }
        }
        f.evidence.insert(f.evidence.begin(), g.sample.text());
        out.push_back(std::move(f));
    }
    for (const auto& [key, h] : peers_) {
        std::string who = h.peer.empty() ? "endpoint " + h.endpoint : "peer " + short_key(h.peer);
        if (h.initiations_sent && !h.responses_received && !h.data_received) {
            Finding f{FindingKind::handshake_incomplete};
            f.subject = h.interface + " " + who;
            f.count = h.initiations_sent;
            f.summary = fmt::format("the handshake with {} never completed: {} initiation{} sent to {}, no response "
                                    "came back",
                                    who, h.initiations_sent, h.initiations_sent == 1 ? "" : "s", h.endpoint);
            f.evidence = {"last initiation: " + h.last_initiation_where};
            if (h.cookies_received)
                f.evidence.push_back(
                    fmt::format("{} cookie replies received (the peer is under load)", h.cookies_received));
            bool dropped_here = h.last_initiation_where.find("dropped") != std::string::npos;
            f.change = dropped_here
                           ? "accept WireGuard's UDP packets where this host dropped them (see the last initiation)"
                           : fmt::format("run `wgbpf diagnose` on the peer's side: it receives the initiations "
                                         "only if its firewall accepts UDP port {}, and answers only if it has "
                                         "this host's public key as a peer and this host has its key right",
                                         h.endpoint.substr(h.endpoint.rfind(':') + 1));
            out.push_back(std::move(f));
        }
    }
    // Peers' packets forwarded to the uplink with their private tunnel source, and nothing came back: the uplink's
    // network most likely cannot route to the tunnel's addresses (no masquerade). Likely, never certain: a
    // site-to-site set-up routes them back, and its replies would have been seen.
    std::map<std::pair<std::string, std::string>, std::pair<Finding, Sample>> nat;
    for (const auto& [key, fw] : unnatted_) {
        const std::string& tunnel = std::get<0>(key);
        const std::string& uplink = std::get<1>(key);
        const IpAddress& src = std::get<2>(key);
        const IpAddress& dst = std::get<3>(key);
        bool wireguard_in = std::any_of(wireguard.begin(), wireguard.end(),
                                        [&tunnel](const WgInterface& w) { return w.name == tunnel; });
        // Any reply through this tunnel and uplink shows the way back; a flow sent in the watch's last second
        // had no time for one.
        if (!wireguard_in || answered_.contains({tunnel, uplink}) || fw.last_ns + 1'000'000'000 > end) continue;
        auto [it, fresh] = nat.try_emplace({tunnel, uplink});
        Finding& f = it->second.first;
        if (fresh) {
            f.kind = FindingKind::no_nat_to_uplink;
            f.certainty = Certainty::likely;
            f.subject = tunnel + " -> " + uplink;
            f.interface = tunnel;
            f.summary = fmt::format("packets from {}'s peers were forwarded out of {} with their tunnel source (e.g. "
                                    "{} -> {}) and no reply came back: {}'s network most likely has no route to the "
                                    "tunnel's addresses (no masquerade)",
                                    tunnel, uplink, src.to_string(), dst.to_string(), uplink);
            f.change =
                fmt::format("masquerade them: nft add table ip nat; nft add chain ip nat postrouting '{{ type nat "
                            "hook postrouting priority srcnat; }}'; nft add rule ip nat postrouting oifname {} "
                            "ip saddr {} masquerade (or route the tunnel's prefix back to this host)",
                            uplink, src.to_string());
        }
        it->second.second.merge(fw.sample, examples_);
    }
    for (auto& [key, v] : nat) {
        v.first.count = v.second.count;
        v.first.evidence = {v.second.text(" without a reply")};
        out.push_back(std::move(v.first));
    }
    // An endpoint's packets routed into the tunnel itself: the loop, seen.
    for (const WgInterface& w : wireguard)
        for (const WgPeer& p : w.peers) {
            if (!p.endpoint) continue;
            auto it = udp_routes_.find({p.endpoint->address, p.endpoint->port, w.name});
            if (it == udp_routes_.end()) continue;
            Finding f{FindingKind::endpoint_route_loop};
            f.subject = w.name + " peer " + short_key(p.public_key);
            f.count = it->second.sample.count;
            f.summary = fmt::format("packets to peer {}'s endpoint {} were routed into {} itself",
                                    short_key(p.public_key), p.endpoint->to_string(), w.name);
            f.evidence = {it->second.sample.text(), "route decision: " + it->second.decision};
            f.change = fmt::format("route {}'s outer packets outside the tunnel: a fwmark on {} and a rule for it (as "
                                   "wg-quick), or a route for {} via the uplink",
                                   w.name, w.name, p.endpoint->address.to_string());
            out.push_back(std::move(f));
        }
    // Initiations received and none answered, per interface (an initiation from a roaming peer and its response
    // may be counted under its endpoint and its key). Kernel WireGuard says why exactly; user space is inferred.
    for (const WgInterface& w : wireguard) {
        uint64_t received = 0, answered = 0;
        std::string from;
        for (const auto& [key, h] : peers_)
            if (h.interface == w.name) {
                received += h.initiations_received;
                answered += h.responses_sent + h.cookies_sent + h.rejected;
                if (h.initiations_received && from.empty()) from = h.endpoint;
            }
        if (!received || answered || w.implementation == WgImplementation::kernel) continue;
        Finding f{FindingKind::handshake_rejected};
        f.certainty = Certainty::likely;
        f.subject = w.name;
        f.count = received;
        f.summary = fmt::format("{} handshake initiation{} received (from {}) and none answered: WireGuard refused {} "
                                "(inferred: a user-space WireGuard does not say why)",
                                received, received == 1 ? "" : "s", from, received == 1 ? "it" : "them");
        f.change = fmt::format("check that the sender uses {}'s public key (wg show {} public-key) and that its own "
                               "public key is a peer of {}",
                               w.name, w.name, w.name);
        out.push_back(std::move(f));
    }
    return out;
}

} // namespace wgbpf
