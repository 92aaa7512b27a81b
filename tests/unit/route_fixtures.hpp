#pragma once
// Builders for the routing unit tests: namespaces, rules, routes and observed lookups, in `ip` words.
#include <stdexcept>
#include <string>
#include <string_view>

#include "config/netns_config.hpp"
#include "event/route_lookup.hpp"

namespace wgbpf::test {

constexpr int kLo = 1;
constexpr int kC0 = 2;               // the LAN
constexpr int kWg0 = 5;              // the tunnel
constexpr uint32_t kWgMark = 0xca6c; // 51820
constexpr uint32_t kWgTable = 51820;
constexpr int kMiss = -11;         // -EAGAIN
constexpr int kUnreachable = -113; // -EHOSTUNREACH
constexpr int kProhibit = -13;     // -EACCES
constexpr int kBlackhole = -22;    // -EINVAL

inline IpAddress ip(std::string_view text) {
    auto a = IpAddress::parse(text);
    if (!a) throw std::invalid_argument("bad address: " + std::string(text));
    return *a;
}

inline IpPrefix net(std::string_view text) {
    auto p = IpPrefix::parse(text);
    if (!p) throw std::invalid_argument("bad prefix: " + std::string(text));
    return *p;
}

// `ip rule add pref PREF lookup TABLE`
inline Rule lookup_rule(uint32_t pref, uint32_t table, Family f = Family::ipv4) {
    Rule r;
    r.family = f;
    r.pref = pref;
    r.table = table;
    return r;
}

// `ip rule add pref PREF unreachable|prohibit|blackhole|nop`
inline Rule action_rule(uint32_t pref, RuleAction action, Family f = Family::ipv4) {
    Rule r = lookup_rule(pref, 0, f);
    r.action = action;
    return r;
}

// `ip rule add pref PREF goto TARGET`
inline Rule goto_rule(uint32_t pref, uint32_t target, Family f = Family::ipv4) {
    Rule r = action_rule(pref, RuleAction::go_to, f);
    r.goto_target = target;
    return r;
}

// `ip route add [TYPE] DST [via GW] [dev OIF] table TABLE`
inline Route route(uint32_t table, std::string_view dst, int oif, std::string_view via = "",
                   RouteType type = RouteType::unicast) {
    Route r;
    r.dst = net(dst);
    r.family = r.dst.address.family;
    r.table = table;
    r.oif = oif;
    r.type = type;
    if (!via.empty()) r.gateway = ip(via);
    return r;
}

inline Route reject_route(uint32_t table, std::string_view dst, RouteType type) {
    return route(table, dst, kLo, "", type);
}

// The kernel's rules in a fresh namespace.
inline void add_default_rules(NetnsConfig& cfg, Family f) {
    cfg.rules.push_back(lookup_rule(0, 255, f));
    cfg.rules.push_back(lookup_rule(32766, 254, f));
    if (f == Family::ipv4) cfg.rules.push_back(lookup_rule(32767, 253, f));
}

// What wg-quick adds: `not fwmark 51820 lookup 51820` and `lookup main suppress_prefixlength 0`.
inline void add_wg_quick_rules(NetnsConfig& cfg, Family f) {
    Rule suppress = lookup_rule(32764, 254, f);
    suppress.suppress_prefixlen = 0;
    Rule tunnel = lookup_rule(32765, kWgTable, f);
    tunnel.invert = true;
    tunnel.fwmark = kWgMark;
    cfg.rules.push_back(suppress);
    cfg.rules.push_back(tunnel);
}

inline NetnsConfig links_only() {
    NetnsConfig cfg;
    cfg.netns_inode = 4026531840;
    cfg.links = {{kLo, "lo", 0}, {kC0, "c0", 0}, {kWg0, "wg0", 0}};
    return cfg;
}

// The seed article's client: LAN 192.168.178.48/24 on c0, tunnel 10.0.0.1/24 on wg0, all traffic via wg0.
inline NetnsConfig seed_config() {
    NetnsConfig cfg = links_only();
    add_default_rules(cfg, Family::ipv4);
    add_wg_quick_rules(cfg, Family::ipv4);
    cfg.routes = {
        route(254, "0.0.0.0/0", kC0, "192.168.178.1"),
        route(254, "192.168.178.0/24", kC0),
        route(254, "10.0.0.0/24", kWg0),
        route(kWgTable, "0.0.0.0/0", kWg0),
        route(255, "192.168.178.48/32", kC0, "", RouteType::local),
        route(255, "192.168.178.255/32", kC0, "", RouteType::broadcast),
        route(255, "10.0.0.1/32", kWg0, "", RouteType::local),
        route(255, "10.0.0.255/32", kWg0, "", RouteType::broadcast),
        route(255, "127.0.0.0/8", kLo, "", RouteType::local),
        route(255, "127.0.0.1/32", kLo, "", RouteType::local),
        route(255, "127.255.255.255/32", kLo, "", RouteType::broadcast),
    };
    return cfg;
}

// The same client with wg-quick's IPv6 half: LAN 2001:db8:1::48/64 on c0, tunnel fd00::2/64 on wg0.
inline NetnsConfig seed_config_v6() {
    NetnsConfig cfg = links_only();
    add_default_rules(cfg, Family::ipv6);
    add_wg_quick_rules(cfg, Family::ipv6);
    cfg.routes = {
        route(254, "::/0", kC0, "fe80::1"),
        route(254, "2001:db8:1::/64", kC0),
        route(254, "fd00::/64", kWg0),
        route(kWgTable, "::/0", kWg0),
        route(255, "2001:db8:1::48/128", kC0, "", RouteType::local),
        route(255, "fd00::2/128", kWg0, "", RouteType::local),
        route(255, "::1/128", kLo, "", RouteType::local),
    };
    return cfg;
}

// One flow as the tracepoint reports it; each call adds a table and what the table answered.
struct Flow {
    RouteLookup base;

    RouteLookup miss(uint32_t table, uint64_t t_ns = 0) const { return answer(table, kMiss, 0, "", t_ns); }
    RouteLookup hit(uint32_t table, int dev, std::string_view via = "", uint64_t t_ns = 0) const {
        return answer(table, 0, dev, via, t_ns);
    }
    RouteLookup reject(uint32_t table, int err, uint64_t t_ns = 0) const { return answer(table, err, 0, "", t_ns); }

    Flow& on_cpu(uint32_t cpu) {
        base.cpu = cpu;
        return *this;
    }
    Flow& in_netns(uint32_t netns) {
        base.netns = netns;
        return *this;
    }

private:
    RouteLookup answer(uint32_t table, int err, int dev, std::string_view via, uint64_t t_ns) const {
        RouteLookup l = base;
        l.table = table;
        l.err = err;
        l.nh_ifindex = dev;
        if (!via.empty()) l.gateway = ip(via);
        l.t_ns = t_ns;
        return l;
    }
};

inline Flow make_flow(RouteDirection dir, std::string_view src, std::string_view dst, uint32_t mark, int iif) {
    Flow f;
    f.base.direction = dir;
    f.base.src = ip(src);
    f.base.dst = ip(dst);
    f.base.family = f.base.dst.family;
    f.base.mark = mark;
    f.base.iif = iif;
    f.base.netns = 4026531840;
    return f;
}

// Locally generated (iif lo); `src` is often still unspecified.
inline Flow output_flow(std::string_view src, std::string_view dst, uint32_t mark = 0) {
    return make_flow(RouteDirection::output, src, dst, mark, kLo);
}

inline Flow input_flow(std::string_view src, std::string_view dst, int iif, uint32_t mark = 0) {
    return make_flow(RouteDirection::input, src, dst, mark, iif);
}

// rp_filter's lookup for a received packet: the addresses swapped, iif lo.
inline Flow reverse_flow(std::string_view src, std::string_view dst, uint32_t mark = 0) {
    return make_flow(RouteDirection::reverse, src, dst, mark, kLo);
}

} // namespace wgbpf::test
