#include "nftrace/trace_rules.hpp"

#include <fmt/format.h>
#include <netinet/in.h>

namespace wgbpf {
namespace {

using Field = TraceCondition::Field;
constexpr uint8_t kNfprotoOf[] = {0, 0, 0, 0, 2, 0, 10}; // Family 4 -> NFPROTO_IPV4, 6 -> NFPROTO_IPV6

TraceCondition cond(Field f, uint32_t number) { return TraceCondition{f, {}, number, {}}; }

TraceCondition address(Field f, const IpAddress& a) { return TraceCondition{f, {}, 0, a}; }

bool sees_input_interface(NfHook h) { return h == NfHook::prerouting || h == NfHook::input || h == NfHook::forward; }
bool sees_output_interface(NfHook h) { return h == NfHook::forward || h == NfHook::output || h == NfHook::postrouting; }

// A WireGuard interface's outer packets, as the BPF filter recognises them: its fwmark, its listen port,
// its peers' endpoints.
void outer_packet_rules(const WgInterface& wg, std::vector<TraceRule>& rules) {
    if (wg.fwmark) rules.push_back({{cond(Field::mark, wg.fwmark)}});
    if (wg.listen_port) {
        rules.push_back({{cond(Field::l4proto, IPPROTO_UDP), cond(Field::sport, wg.listen_port)}});
        rules.push_back({{cond(Field::l4proto, IPPROTO_UDP), cond(Field::dport, wg.listen_port)}});
    }
    for (const WgPeer& peer : wg.peers) {
        if (!peer.endpoint) continue;
        const WgEndpoint& e = *peer.endpoint;
        TraceCondition family = cond(Field::nfproto, kNfprotoOf[int(e.address.family)]);
        TraceCondition udp = cond(Field::l4proto, IPPROTO_UDP);
        rules.push_back({{family, udp, address(Field::daddr, e.address), cond(Field::dport, e.port)}});
        rules.push_back({{family, udp, address(Field::saddr, e.address), cond(Field::sport, e.port)}});
    }
}

std::string condition_text(const TraceCondition& c, bool ipv6) {
    switch (c.field) {
    case Field::iifname: return fmt::format("iifname \"{}\"", c.name);
    case Field::oifname: return fmt::format("oifname \"{}\"", c.name);
    case Field::mark: return fmt::format("meta mark 0x{:08x}", c.number);
    case Field::nfproto: return c.number == 10 ? "meta nfproto ipv6" : "meta nfproto ipv4";
    case Field::l4proto: return c.number == IPPROTO_UDP ? "meta l4proto udp" : fmt::format("meta l4proto {}", c.number);
    case Field::saddr: return fmt::format("{} saddr {}", ipv6 ? "ip6" : "ip", c.address.to_string());
    case Field::daddr: return fmt::format("{} daddr {}", ipv6 ? "ip6" : "ip", c.address.to_string());
    case Field::sport: return fmt::format("th sport {}", c.number);
    case Field::dport: return fmt::format("th dport {}", c.number);
    }
    return {};
}

} // namespace

std::string TraceRule::text() const {
    bool ipv6 = false;
    for (const TraceCondition& c : match)
        if (c.field == Field::nfproto) ipv6 = c.number == 10;
    std::string out;
    for (const TraceCondition& c : match) out += condition_text(c, ipv6) + " ";
    return out + "meta nftrace set 1";
}

std::vector<TraceChainPlan> plan_trace_chains(const TraceScope& scope) {
    std::vector<TraceChainPlan> chains;
    for (NfHook hook : kTraceHooks) {
        TraceChainPlan chain{hook, {}};
        if (scope.iface.empty()) {
            chain.rules.push_back({}); // no scope: trace everything
        } else {
            if (sees_input_interface(hook))
                chain.rules.push_back({{TraceCondition{Field::iifname, scope.iface, 0, {}}}});
            if (sees_output_interface(hook))
                chain.rules.push_back({{TraceCondition{Field::oifname, scope.iface, 0, {}}}});
            if (scope.wireguard) outer_packet_rules(*scope.wireguard, chain.rules);
        }
        chains.push_back(std::move(chain));
    }
    return chains;
}

} // namespace wgbpf
