#include "diagnose/static_checks.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <netinet/in.h>

#include "route/route_predict.hpp"

namespace wgbpf {
namespace {

const Ipv4Conf* conf(const NetnsConfig& cfg, const std::string& name) {
    auto it = cfg.ipv4_conf.find(name);
    return it == cfg.ipv4_conf.end() ? nullptr : &it->second;
}

// A host address inside the prefix, to ask the routing tables about (the network address itself may be
// special; a /32 or /128 is the host).
IpAddress probe_address(const IpPrefix& p) {
    IpAddress a = p.address;
    size_t host_bits = a.size() * 8 - p.length;
    if (host_bits >= 2) a.bytes[a.size() - 1] |= 1;
    return a;
}

std::string peer_subject(const WgInterface& w, const WgPeer& p) { return w.name + " peer " + short_key(p.public_key); }

struct Checks {
    const NetnsConfig& cfg;
    const std::vector<WgInterface>& wg;
    std::vector<Finding> out;
    size_t ran = 0;

    // The interface's own address of a family: a local route on it in table local.
    std::optional<IpAddress> local_address(const std::string& dev, Family f) const {
        const Link* link = cfg.link_by_name(dev);
        if (!link) return std::nullopt;
        for (const Route& r : cfg.routes)
            if (r.table == 255 && r.type == RouteType::local && r.oif == link->ifindex && r.family == f &&
                r.dst.length == (f == Family::ipv4 ? 32 : 128))
                return r.dst.address;
        return std::nullopt;
    }

    void add(Finding f, const WgInterface& w, const WgPeer& p) {
        f.interface = w.name;
        f.peer = p.public_key;
        out.push_back(std::move(f));
    }

    void endpoint(const WgInterface& w, const WgPeer& p) {
        const WgEndpoint& ep = *p.endpoint;
        RouteDecision d = predict_route(output_flow(ep.address, w.fwmark, IPPROTO_UDP, w.listen_port, ep.port), cfg);
        std::string flow = fmt::format("udp {} -> {} with mark {:#x} (the interface's fwmark)", w.listen_port,
                                       ep.to_string(), w.fwmark);
        ++ran;
        if (d.result != LookupResult::hit) {
            Finding f{FindingKind::endpoint_unreachable};
            f.subject = peer_subject(w, p);
            f.summary = fmt::format("no route to peer {}'s endpoint {}: WireGuard cannot send it anything",
                                    short_key(p.public_key), ep.to_string());
            f.evidence = {"predicted for " + flow + ": " + decision_evidence(d, cfg)};
            f.change = d.rule && d.lookups.empty()
                           ? fmt::format("rule {} rejects it ({}): let the endpoint's packets past it", *d.rule,
                                         name_of(d.result))
                           : fmt::format("add a route to {} (ip route add {} via <gateway>)", ep.address.to_string(),
                                         ep.address.to_string());
            add(std::move(f), w, p);
            return;
        }
        if (d.result_oif == w.name) { // another WireGuard interface under it is a nested tunnel, not a loop
            Finding f{FindingKind::endpoint_route_loop};
            f.subject = peer_subject(w, p);
            f.summary = fmt::format("packets to peer {}'s endpoint {} are routed into {} itself: the tunnel would "
                                    "carry its own outer packets (kernel WireGuard refuses to send them, -ELOOP)",
                                    short_key(p.public_key), ep.to_string(), d.result_oif);
            f.evidence = {"predicted for " + flow + ": " + decision_evidence(d, cfg)};
            f.change =
                w.fwmark == 0
                    ? fmt::format("give {0} a fwmark and route marked packets outside the tunnel (wg set {0} "
                                  "fwmark 51820; ip rule add not fwmark 51820 table 51820, as wg-quick does), or "
                                  "add a route for {1} via the uplink",
                                  w.name, ep.address.to_string())
                    : fmt::format("make packets with mark {:#x} skip the tunnel's table: rule {} sends them "
                                  "there; or add a route for {} via the uplink",
                                  w.fwmark, d.rule ? std::to_string(*d.rule) : std::string("?"),
                                  ep.address.to_string());
            add(std::move(f), w, p);
            return;
        }
        mtu(w, p, d.result_oif);
        rp_filter(w, p, d.result_oif);
    }

    void mtu(const WgInterface& w, const WgPeer& p, const std::string& egress) {
        const Link* tunnel = cfg.link_by_name(w.name);
        const Link* dev = cfg.link_by_name(egress);
        if (!tunnel || !dev || !tunnel->mtu || !dev->mtu) return;
        ++ran;
        unsigned overhead = p.endpoint->address.family == Family::ipv4 ? 60 : 80; // IP + UDP 8 + WireGuard 32
        if (tunnel->mtu + overhead <= dev->mtu) return;
        Finding f{FindingKind::mtu_exceeds_path};
        f.subject = w.name + " via " + egress;
        f.summary = fmt::format("{} MTU {} + {} bytes of outer headers = {} > {}'s MTU {}: full-size packets to "
                                "peer {} make outer packets the path cannot carry whole (fragmented, or dropped "
                                "where fragments are not allowed)",
                                w.name, tunnel->mtu, overhead, tunnel->mtu + overhead, egress, dev->mtu,
                                short_key(p.public_key));
        f.evidence = {fmt::format("{} mtu {}; endpoint {} routed via {} (mtu {})", w.name, tunnel->mtu,
                                  p.endpoint->to_string(), egress, dev->mtu)};
        f.change = fmt::format("ip link set dev {} mtu {}", w.name, dev->mtu - overhead);
        add(std::move(f), w, p);
    }

    // Replies from the endpoint come in on `egress`; with strict rp_filter the kernel looks the endpoint up
    // again, with the reply's mark only if src_valid_mark is set. Without it the lookup is the one of an
    // unmarked packet: into the tunnel, under wg-quick's rules.
    void rp_filter(const WgInterface& w, const WgPeer& p, const std::string& egress) {
        const WgEndpoint& ep = *p.endpoint;
        if (ep.address.family != Family::ipv4) return; // rp_filter is IPv4's
        ++ran;
        if (rp_filter_mode(cfg, egress) != 1 || src_valid_mark(cfg, egress)) return;
        RouteLookup reverse = output_flow(ep.address, 0);
        reverse.direction = RouteDirection::reverse;
        RouteDecision d = predict_route(reverse, cfg);
        if (d.result == LookupResult::hit && d.result_oif == egress) return;
        Finding f{FindingKind::rp_filter_drops_replies};
        f.subject = w.name + " peer " + short_key(p.public_key) + " via " + egress;
        f.summary = fmt::format("replies from endpoint {} arrive on {}, but strict rp_filter looks {} up without "
                                "their mark (src_valid_mark=0) and finds {}: the kernel drops them (IP_RPFILTER)",
                                ep.to_string(), egress, ep.address.to_string(),
                                d.result == LookupResult::hit ? "a route via " + d.result_oif : "no route");
        f.evidence = {fmt::format("rp_filter={} on {} (max of all and {}), src_valid_mark=0",
                                  rp_filter_mode(cfg, egress), egress, egress),
                      "predicted reverse lookup (mark 0): " + decision_evidence(d, cfg)};
        f.change = "sysctl -w net.ipv4.conf.all.src_valid_mark=1 (what wg-quick sets; or rp_filter=2, loose)";
        add(std::move(f), w, p);
    }

    void allowed_ips(const WgInterface& w, const WgPeer& p) {
        ++ran;
        if (p.allowed_ips.empty()) {
            Finding f{FindingKind::peer_without_allowed_ips};
            f.subject = peer_subject(w, p);
            f.summary = fmt::format("peer {} has no allowed IPs: WireGuard accepts nothing it sends and sends "
                                    "nothing to it",
                                    short_key(p.public_key));
            f.evidence = {fmt::format("wg show {} allowed-ips: {} (none)", w.name, short_key(p.public_key))};
            for (const WgPeer& other : w.peers)
                if (&other != &p && !other.allowed_ips.empty() && f.evidence.size() < 4) {
                    std::string list;
                    for (const IpPrefix& a : other.allowed_ips) list += (list.empty() ? "" : ", ") + a.to_string();
                    f.evidence.push_back(fmt::format("peer {} has {}", short_key(other.public_key), list));
                }
            f.change = fmt::format("give it its allowed IPs (wg set {} peer {} allowed-ips ADDR/LEN); an allowed IP "
                                   "given to two peers stays only with the last one set",
                                   w.name, p.public_key);
            add(std::move(f), w, p);
            return;
        }
        for (const IpPrefix& prefix : p.allowed_ips) {
            if (prefix.length == 0) continue; // "everything": the default route's business
            if (p.endpoint && prefix.contains(p.endpoint->address)) continue;
            IpAddress a = probe_address(prefix);
            RouteLookup flow = output_flow(a, 0);
            if (auto src = local_address(w.name, a.family)) flow.src = *src; // what a reply from this host carries
            RouteDecision d = predict_route(flow, cfg);
            ++ran;
            if (d.result != LookupResult::hit || d.result_oif == w.name || d.route_type == RouteType::local ||
                d.route_type == RouteType::broadcast)
                continue;
            Finding f{FindingKind::allowed_ips_not_routed};
            f.certainty = Certainty::likely;
            // Rules that choose by source, device or user may route other flows there: said, not claimed.
            f.note = std::any_of(cfg.rules.begin(), cfg.rules.end(), [](const Rule& r) {
                return (r.from && r.from->length) || !r.iif.empty() || !r.oif.empty() || r.uid_range;
            });
            f.subject = peer_subject(w, p);
            f.summary = fmt::format("peer {}'s allowed IPs {} are routed via {}, not into {}: what this host sends "
                                    "there does not enter the tunnel",
                                    short_key(p.public_key), prefix.to_string(), d.result_oif, w.name);
            f.evidence = {fmt::format("predicted for {} (mark 0): {}", a.to_string(), decision_evidence(d, cfg))};
            f.change = fmt::format("ip route add {} dev {} (wg-quick adds one per allowed IP unless Table = off)",
                                   prefix.to_string(), w.name);
            add(std::move(f), w, p);
        }
    }
};

} // namespace

int rp_filter_mode(const NetnsConfig& cfg, const std::string& dev) {
    const Ipv4Conf* all = conf(cfg, "all");
    const Ipv4Conf* own = conf(cfg, dev);
    return std::max(all ? all->rp_filter : 0, own ? own->rp_filter : 0);
}

bool src_valid_mark(const NetnsConfig& cfg, const std::string& dev) {
    const Ipv4Conf* all = conf(cfg, "all");
    const Ipv4Conf* own = conf(cfg, dev);
    return (all && all->src_valid_mark) || (own && own->src_valid_mark);
}

std::string decision_evidence(const RouteDecision& d, const NetnsConfig& cfg) {
    std::string rule = "no rule";
    if (d.fast_path) rule = "no custom rules (main table)";
    else if (d.rule) {
        rule = fmt::format("rule {}", *d.rule);
        for (const Rule& r : cfg.rules)
            if (r.family == d.family && r.pref == *d.rule) {
                {
                    std::string text = r.to_string(); // "32765:\tnot from all ...": without its pref
                    size_t body = text.find_first_not_of(":\t ", text.find(':'));
                    rule += " (" + (body == std::string::npos ? text : text.substr(body)) + ")";
                }
                break;
            }
    }
    std::string table = d.table
                            ? fmt::format(", table {}", d.table_name.empty() ? std::to_string(*d.table) : d.table_name)
                            : std::string();
    std::string result(name_of(d.result));
    if (d.result == LookupResult::hit) {
        result = d.prefix ? d.prefix->to_string() : std::string("route");
        if (d.gateway) result += " via " + d.gateway->to_string();
        if (!d.result_oif.empty()) result += " dev " + d.result_oif;
    }
    return rule + table + ": " + result;
}

StaticReport static_findings(const NetnsConfig& cfg, const std::vector<WgInterface>& wireguard) {
    Checks c{cfg, wireguard, {}, 0};
    for (const WgInterface& w : wireguard)
        for (const WgPeer& p : w.peers) {
            c.allowed_ips(w, p);
            if (p.endpoint) c.endpoint(w, p);
        }
    return {std::move(c.out), c.ran};
}

} // namespace wgbpf
