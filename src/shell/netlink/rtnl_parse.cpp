#include "netlink/rtnl_parse.hpp"

#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>
#include <vector>

#include "netlink/nl_attr.hpp"

namespace wgbpf {
namespace {

// Attributes of one message indexed by type; the last one of a type wins (as in the kernel).
struct Attrs {
    explicit Attrs(uint16_t max) : tb(max + 1u, nullptr) {}
    std::vector<const nlattr*> tb;
    const nlattr* operator[](uint16_t type) const { return type < tb.size() ? tb[type] : nullptr; }
};

int collect_attr(const nlattr* attr, void* data) {
    auto* attrs = static_cast<Attrs*>(data);
    uint16_t type = mnl_attr_get_type(attr);
    if (type < attrs->tb.size()) attrs->tb[type] = attr;
    return MNL_CB_OK;
}

// Parses the attributes that follow a fixed header of `header_size` bytes; false if the message is short.
bool parse_attrs(const nlmsghdr* nlh, size_t header_size, Attrs& attrs) {
    if (nlh->nlmsg_len < NLMSG_LENGTH(header_size)) return false;
    return mnl_attr_parse(nlh, static_cast<unsigned>(NLMSG_ALIGN(header_size)), collect_attr, &attrs) >= MNL_CB_STOP;
}

std::optional<uint32_t> get_u32(const nlattr* a) {
    if (!a || mnl_attr_get_payload_len(a) < sizeof(uint32_t)) return std::nullopt;
    return mnl_attr_get_u32(a);
}

std::optional<uint8_t> get_u8(const nlattr* a) {
    if (!a || mnl_attr_get_payload_len(a) < sizeof(uint8_t)) return std::nullopt;
    return mnl_attr_get_u8(a);
}

std::string get_string(const nlattr* a) {
    if (!a) return {};
    const char* p = static_cast<const char*>(mnl_attr_get_payload(a));
    return std::string(p, strnlen(p, mnl_attr_get_payload_len(a)));
}

std::optional<Family> family_of(uint8_t af) {
    if (af == AF_INET) return Family::ipv4;
    if (af == AF_INET6) return Family::ipv6;
    return std::nullopt;
}

size_t address_size(Family f) { return f == Family::ipv4 ? 4 : 16; }

std::optional<IpAddress> get_address(const nlattr* a, Family f) {
    if (!a || mnl_attr_get_payload_len(a) < address_size(f)) return std::nullopt;
    return IpAddress::from_bytes(f, static_cast<const uint8_t*>(mnl_attr_get_payload(a)));
}

// A prefix from an address attribute and the header's length; absent attribute = all-zero address.
std::optional<IpPrefix> get_prefix(const nlattr* a, Family f, uint8_t len) {
    if (len > address_size(f) * 8) return std::nullopt;
    IpPrefix p;
    p.address.family = f;
    p.length = len;
    if (a) {
        auto addr = get_address(a, f);
        if (!addr) return std::nullopt;
        p.address = *addr;
    }
    return p;
}

template <typename T>
std::optional<T> get_struct(const nlattr* a) {
    if (!a || mnl_attr_get_payload_len(a) < sizeof(T)) return std::nullopt;
    T v;
    std::memcpy(&v, mnl_attr_get_payload(a), sizeof v);
    return v;
}

// RTA_VIA: a gateway of any family (IPv4 routes via an IPv6 next hop).
std::optional<IpAddress> get_via(const nlattr* a) {
    if (!a || mnl_attr_get_payload_len(a) < sizeof(rtvia)) return std::nullopt;
    const auto* via = static_cast<const rtvia*>(mnl_attr_get_payload(a));
    auto f = family_of(static_cast<uint8_t>(via->rtvia_family));
    if (!f || mnl_attr_get_payload_len(a) < sizeof(rtvia) + address_size(*f)) return std::nullopt;
    return IpAddress::from_bytes(*f, via->rtvia_addr);
}

// The first nexthop of RTA_MULTIPATH: its ifindex and gateway.
void take_first_nexthop(const nlattr* mp, Family f, Route& r) {
    size_t len = mnl_attr_get_payload_len(mp);
    if (len < sizeof(rtnexthop)) return;
    const auto* nh = static_cast<const rtnexthop*>(mnl_attr_get_payload(mp));
    if (nh->rtnh_len < sizeof(rtnexthop) || nh->rtnh_len > len) return;
    r.oif = nh->rtnh_ifindex;
    const auto* payload = reinterpret_cast<const char*>(nh) + RTNH_LENGTH(0);
    size_t payload_size = nh->rtnh_len - RTNH_LENGTH(0);
    for_each_attr(payload, payload_size, [&](const nlattr* attr) {
        if (mnl_attr_get_type(attr) == RTA_GATEWAY) {
            if (auto gw = get_address(attr, f)) r.gateway = gw;
        } else if (mnl_attr_get_type(attr) == RTA_VIA) {
            if (auto gw = get_via(attr)) r.gateway = gw;
        }
        return true;
    });
}

} // namespace

std::optional<Rule> parse_rule(const nlmsghdr* nlh) {
    if (nlh->nlmsg_type != RTM_NEWRULE) return std::nullopt;
    Attrs tb(FRA_MAX);
    if (!parse_attrs(nlh, sizeof(fib_rule_hdr), tb)) return std::nullopt;
    const auto* frh = static_cast<const fib_rule_hdr*>(mnl_nlmsg_get_payload(nlh));
    auto family = family_of(frh->family);
    if (!family) return std::nullopt;

    Rule r;
    r.family = *family;
    r.pref = get_u32(tb[FRA_PRIORITY]).value_or(0); // the kernel omits pref 0
    r.action = static_cast<RuleAction>(frh->action);
    r.table = get_u32(tb[FRA_TABLE]).value_or(frh->table); // rtm_table is 8 bits; FRA_TABLE is not
    r.invert = (frh->flags & FIB_RULE_INVERT) != 0;
    auto mark = get_u32(tb[FRA_FWMARK]);
    auto mask = get_u32(tb[FRA_FWMASK]);
    if (mark || mask) { // "fwmark 0/0x1" is sent as a mask alone
        r.fwmark = mark.value_or(0);
        r.fwmask = mask.value_or(0xffffffff);
    }
    r.iif = get_string(tb[FRA_IIFNAME]);
    r.oif = get_string(tb[FRA_OIFNAME]);
    if (tb[FRA_SRC] || frh->src_len) {
        r.from = get_prefix(tb[FRA_SRC], *family, frh->src_len);
        if (!r.from) return std::nullopt;
    }
    if (tb[FRA_DST] || frh->dst_len) {
        r.to = get_prefix(tb[FRA_DST], *family, frh->dst_len);
        if (!r.to) return std::nullopt;
    }
    r.tos = frh->tos;
    if (auto uid = get_struct<fib_rule_uid_range>(tb[FRA_UID_RANGE])) r.uid_range = {{uid->start, uid->end}};
    r.ip_proto = get_u8(tb[FRA_IP_PROTO]).value_or(0);
    if (auto p = get_struct<fib_rule_port_range>(tb[FRA_SPORT_RANGE])) r.sport = PortRange{p->start, p->end};
    if (auto p = get_struct<fib_rule_port_range>(tb[FRA_DPORT_RANGE])) r.dport = PortRange{p->start, p->end};
    r.goto_target = get_u32(tb[FRA_GOTO]);
    if (auto v = get_u32(tb[FRA_SUPPRESS_PREFIXLEN])) r.suppress_prefixlen = static_cast<int32_t>(*v);
    if (auto v = get_u32(tb[FRA_SUPPRESS_IFGROUP])) r.suppress_ifgroup = static_cast<int32_t>(*v);
    r.l3mdev = get_u8(tb[FRA_L3MDEV]).value_or(0) != 0;
    return r;
}

std::optional<Route> parse_route(const nlmsghdr* nlh) {
    if (nlh->nlmsg_type != RTM_NEWROUTE && nlh->nlmsg_type != RTM_DELROUTE) return std::nullopt;
    Attrs tb(RTA_MAX);
    if (!parse_attrs(nlh, sizeof(rtmsg), tb)) return std::nullopt;
    const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
    auto family = family_of(rtm->rtm_family);
    if (!family || (rtm->rtm_flags & RTM_F_CLONED)) return std::nullopt;

    Route r;
    r.family = *family;
    r.table = get_u32(tb[RTA_TABLE]).value_or(rtm->rtm_table);
    auto dst = get_prefix(tb[RTA_DST], *family, rtm->rtm_dst_len);
    if (!dst) return std::nullopt;
    r.dst = *dst;
    r.type = static_cast<RouteType>(rtm->rtm_type);
    r.gateway = get_address(tb[RTA_GATEWAY], *family);
    if (!r.gateway) r.gateway = get_via(tb[RTA_VIA]);
    r.oif = static_cast<int>(get_u32(tb[RTA_OIF]).value_or(0));
    if (tb[RTA_MULTIPATH] && !r.oif && !r.gateway) take_first_nexthop(tb[RTA_MULTIPATH], *family, r);
    r.metric = get_u32(tb[RTA_PRIORITY]).value_or(0);
    r.scope = rtm->rtm_scope;
    r.tos = rtm->rtm_tos;
    return r;
}

std::optional<Link> parse_link(const nlmsghdr* nlh) {
    if (nlh->nlmsg_type != RTM_NEWLINK) return std::nullopt;
    Attrs tb(IFLA_MAX);
    if (!parse_attrs(nlh, sizeof(ifinfomsg), tb)) return std::nullopt;
    const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
    Link l;
    l.ifindex = ifi->ifi_index;
    l.name = get_string(tb[IFLA_IFNAME]);
    l.group = get_u32(tb[IFLA_GROUP]).value_or(0);
    l.mtu = get_u32(tb[IFLA_MTU]).value_or(0);
    return l;
}

} // namespace wgbpf
