// rtnetlink message parsing, with messages built the way the kernel sends them (libmnl, no root).
#include <catch2/catch_test_macros.hpp>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <vector>

#include "netlink/rt_tables.hpp"
#include "netlink/rtnl_parse.hpp"

using namespace wgbpf;

namespace {

struct Message {
    std::vector<char> buf = std::vector<char>(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = nullptr;

    template <typename T>
    Message(uint16_t type, const T& header) {
        nlh = mnl_nlmsg_put_header(buf.data());
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_MULTI;
        *static_cast<T*>(mnl_nlmsg_put_extra_header(nlh, sizeof(T))) = header;
    }
    Message& u8(uint16_t type, uint8_t v) {
        mnl_attr_put_u8(nlh, type, v);
        return *this;
    }
    Message& u32(uint16_t type, uint32_t v) {
        mnl_attr_put_u32(nlh, type, v);
        return *this;
    }
    Message& str(uint16_t type, const char* v) {
        mnl_attr_put_strz(nlh, type, v);
        return *this;
    }
    Message& addr(uint16_t type, const char* text) {
        uint8_t bytes[16];
        if (inet_pton(AF_INET, text, bytes) == 1) mnl_attr_put(nlh, type, 4, bytes);
        else if (inet_pton(AF_INET6, text, bytes) == 1) mnl_attr_put(nlh, type, 16, bytes);
        else FAIL("bad address in test: " << text);
        return *this;
    }
    template <typename T>
    Message& raw(uint16_t type, const T& v) {
        mnl_attr_put(nlh, type, sizeof v, &v);
        return *this;
    }
};

fib_rule_hdr rule_hdr(uint8_t family, uint8_t table, uint8_t action, uint32_t flags = 0) {
    fib_rule_hdr h{};
    h.family = family;
    h.table = table;
    h.action = action;
    h.flags = flags;
    return h;
}

rtmsg route_hdr(uint8_t family, uint8_t dst_len, uint8_t table, uint8_t type, uint8_t scope = RT_SCOPE_UNIVERSE) {
    rtmsg r{};
    r.rtm_family = family;
    r.rtm_dst_len = dst_len;
    r.rtm_table = table;
    r.rtm_type = type;
    r.rtm_scope = scope;
    r.rtm_protocol = RTPROT_BOOT;
    return r;
}

constexpr uint32_t kNoSuppress = 0xffffffff; // the kernel always sends FRA_SUPPRESS_PREFIXLEN, -1 when unset

} // namespace

TEST_CASE("wg-quick's fwmark rule: not fwmark 0xca6c lookup 51820", "[rtnl]") {
    // A table above 255 goes in FRA_TABLE; the 8-bit header field says RT_TABLE_UNSPEC.
    Message m(RTM_NEWRULE, rule_hdr(AF_INET, RT_TABLE_UNSPEC, FR_ACT_TO_TBL, FIB_RULE_INVERT));
    m.u32(FRA_TABLE, 51820)
        .u32(FRA_SUPPRESS_PREFIXLEN, kNoSuppress)
        .u32(FRA_PRIORITY, 32765)
        .u32(FRA_FWMARK, 0xca6c)
        .u32(FRA_FWMASK, 0xffffffff);
    auto r = parse_rule(m.nlh);
    REQUIRE(r);
    CHECK(r->family == Family::ipv4);
    CHECK(r->pref == 32765);
    CHECK(r->invert);
    CHECK(r->action == RuleAction::to_table);
    CHECK(r->table == 51820);
    CHECK(r->fwmark == 0xca6cu);
    CHECK(r->fwmask == 0xffffffff);
    CHECK(r->suppress_prefixlen == -1);
    CHECK(r->suppress_ifgroup == -1);
    CHECK_FALSE(r->from);
    CHECK_FALSE(r->to);
    CHECK(r->to_string() == "32765:\tnot from all fwmark 0xca6c lookup 51820");
}

TEST_CASE("wg-quick's suppress rule: lookup main suppress_prefixlength 0", "[rtnl]") {
    Message m(RTM_NEWRULE, rule_hdr(AF_INET, RT_TABLE_MAIN, FR_ACT_TO_TBL));
    m.u32(FRA_TABLE, RT_TABLE_MAIN).u32(FRA_SUPPRESS_PREFIXLEN, 0).u32(FRA_PRIORITY, 32764);
    auto r = parse_rule(m.nlh);
    REQUIRE(r);
    CHECK(r->pref == 32764);
    CHECK_FALSE(r->invert);
    CHECK(r->table == RT_TABLE_MAIN);
    CHECK(r->suppress_prefixlen == 0);
    CHECK_FALSE(r->fwmark);
    CHECK(r->to_string() == "32764:\tfrom all lookup main suppress_prefixlength 0");
}

TEST_CASE("pref 0 (the local rule) comes without FRA_PRIORITY", "[rtnl]") {
    Message m(RTM_NEWRULE, rule_hdr(AF_INET, RT_TABLE_LOCAL, FR_ACT_TO_TBL));
    m.u32(FRA_TABLE, RT_TABLE_LOCAL).u32(FRA_SUPPRESS_PREFIXLEN, kNoSuppress);
    auto r = parse_rule(m.nlh);
    REQUIRE(r);
    CHECK(r->pref == 0);
    CHECK(r->table == RT_TABLE_LOCAL);
}

TEST_CASE("fwmark with a mask, and a mask alone (mark 0)", "[rtnl]") {
    Message m(RTM_NEWRULE, rule_hdr(AF_INET, 100, FR_ACT_TO_TBL));
    m.u32(FRA_TABLE, 100).u32(FRA_PRIORITY, 1000).u32(FRA_FWMARK, 0x100).u32(FRA_FWMASK, 0x300);
    auto r = parse_rule(m.nlh);
    REQUIRE(r);
    CHECK(r->fwmark == 0x100u);
    CHECK(r->fwmask == 0x300u);

    Message zero(RTM_NEWRULE, rule_hdr(AF_INET, 100, FR_ACT_TO_TBL));
    zero.u32(FRA_TABLE, 100).u32(FRA_PRIORITY, 1001).u32(FRA_FWMASK, 0x1);
    auto z = parse_rule(zero.nlh);
    REQUIRE(z);
    CHECK(z->fwmark == 0u);
    CHECK(z->fwmask == 0x1u);
}

TEST_CASE("iif/oif and from/to selectors", "[rtnl]") {
    auto hdr = rule_hdr(AF_INET, 200, FR_ACT_TO_TBL);
    hdr.src_len = 8;
    hdr.dst_len = 24;
    hdr.tos = 0x10;
    Message m(RTM_NEWRULE, hdr);
    m.u32(FRA_TABLE, 200)
        .u32(FRA_PRIORITY, 500)
        .str(FRA_IIFNAME, "eth0")
        .str(FRA_OIFNAME, "wg0")
        .addr(FRA_SRC, "10.0.0.0")
        .addr(FRA_DST, "192.168.1.0");
    auto r = parse_rule(m.nlh);
    REQUIRE(r);
    CHECK(r->iif == "eth0");
    CHECK(r->oif == "wg0");
    REQUIRE(r->from);
    CHECK(r->from->to_string() == "10.0.0.0/8");
    REQUIRE(r->to);
    CHECK(r->to->to_string() == "192.168.1.0/24");
    CHECK(r->tos == 0x10);
}

TEST_CASE("goto and unreachable actions", "[rtnl]") {
    Message g(RTM_NEWRULE, rule_hdr(AF_INET, RT_TABLE_UNSPEC, FR_ACT_GOTO));
    g.u32(FRA_PRIORITY, 10).u32(FRA_GOTO, 100);
    auto r = parse_rule(g.nlh);
    REQUIRE(r);
    CHECK(r->action == RuleAction::go_to);
    CHECK(r->goto_target == 100u);
    CHECK(r->to_string() == "10:\tfrom all goto 100");

    Message u(RTM_NEWRULE, rule_hdr(AF_INET, RT_TABLE_UNSPEC, FR_ACT_UNREACHABLE));
    u.u32(FRA_PRIORITY, 20);
    auto un = parse_rule(u.nlh);
    REQUIRE(un);
    CHECK(un->action == RuleAction::unreachable);
    CHECK_FALSE(un->goto_target);
}

TEST_CASE("uidrange, ipproto, port ranges, l3mdev, suppress_ifgroup", "[rtnl]") {
    Message m(RTM_NEWRULE, rule_hdr(AF_INET, 7, FR_ACT_TO_TBL));
    m.u32(FRA_TABLE, 7)
        .u32(FRA_PRIORITY, 77)
        .raw(FRA_UID_RANGE, fib_rule_uid_range{1000, 1999})
        .u8(FRA_IP_PROTO, 17)
        .raw(FRA_SPORT_RANGE, fib_rule_port_range{1024, 2047})
        .raw(FRA_DPORT_RANGE, fib_rule_port_range{53, 53})
        .u8(FRA_L3MDEV, 1)
        .u32(FRA_SUPPRESS_IFGROUP, 3);
    auto r = parse_rule(m.nlh);
    REQUIRE(r);
    REQUIRE(r->uid_range);
    CHECK(r->uid_range->first == 1000);
    CHECK(r->uid_range->second == 1999);
    CHECK(r->ip_proto == 17);
    REQUIRE(r->sport);
    CHECK(r->sport->start == 1024);
    CHECK(r->sport->end == 2047);
    REQUIRE(r->dport);
    CHECK(r->dport->start == 53);
    CHECK(r->l3mdev);
    CHECK(r->suppress_ifgroup == 3);
}

TEST_CASE("IPv6 rule", "[rtnl]") {
    auto hdr = rule_hdr(AF_INET6, RT_TABLE_UNSPEC, FR_ACT_TO_TBL, FIB_RULE_INVERT);
    hdr.src_len = 32;
    Message m(RTM_NEWRULE, hdr);
    m.u32(FRA_TABLE, 51820)
        .u32(FRA_PRIORITY, 32765)
        .u32(FRA_FWMARK, 0xca6c)
        .u32(FRA_FWMASK, 0xffffffff)
        .addr(FRA_SRC, "2001:db8::");
    auto r = parse_rule(m.nlh);
    REQUIRE(r);
    CHECK(r->family == Family::ipv6);
    CHECK(r->table == 51820);
    REQUIRE(r->from);
    CHECK(r->from->to_string() == "2001:db8::/32");
}

TEST_CASE("rule messages that are not for us are rejected, not misread", "[rtnl]") {
    Message other_family(RTM_NEWRULE, rule_hdr(AF_BRIDGE, 1, FR_ACT_TO_TBL));
    CHECK_FALSE(parse_rule(other_family.nlh));
    Message route(RTM_NEWROUTE, route_hdr(AF_INET, 0, RT_TABLE_MAIN, RTN_UNICAST));
    CHECK_FALSE(parse_rule(route.nlh));
    Message truncated(RTM_NEWRULE, rule_hdr(AF_INET, 1, FR_ACT_TO_TBL));
    truncated.nlh->nlmsg_len = NLMSG_LENGTH(2);
    CHECK_FALSE(parse_rule(truncated.nlh));
    // An IPv4 rule whose FRA_SRC is too short for its family.
    auto hdr = rule_hdr(AF_INET6, 1, FR_ACT_TO_TBL);
    hdr.src_len = 64;
    Message short_src(RTM_NEWRULE, hdr);
    short_src.addr(FRA_SRC, "10.0.0.1");
    CHECK_FALSE(parse_rule(short_src.nlh));
}

TEST_CASE("route in a table above 255 (RTA_TABLE), with oif", "[rtnl]") {
    // The kernel puts RT_TABLE_COMPAT in the 8-bit field for such tables.
    Message m(RTM_NEWROUTE, route_hdr(AF_INET, 0, RT_TABLE_COMPAT, RTN_UNICAST, RT_SCOPE_LINK));
    m.u32(RTA_TABLE, 51820).u32(RTA_OIF, 5);
    auto r = parse_route(m.nlh);
    REQUIRE(r);
    CHECK(r->family == Family::ipv4);
    CHECK(r->table == 51820);
    CHECK(r->dst.length == 0);
    CHECK(r->dst.address.family == Family::ipv4);
    CHECK(r->dst.address.is_unspecified());
    CHECK(r->type == RouteType::unicast);
    CHECK(r->oif == 5);
    CHECK_FALSE(r->gateway);
    CHECK(r->scope == RT_SCOPE_LINK);
}

TEST_CASE("route via a gateway with a metric", "[rtnl]") {
    Message m(RTM_NEWROUTE, route_hdr(AF_INET, 16, RT_TABLE_MAIN, RTN_UNICAST));
    m.u32(RTA_TABLE, RT_TABLE_MAIN)
        .addr(RTA_DST, "10.1.0.0")
        .addr(RTA_GATEWAY, "192.168.1.1")
        .u32(RTA_OIF, 2)
        .u32(RTA_PRIORITY, 100);
    auto r = parse_route(m.nlh);
    REQUIRE(r);
    CHECK(r->dst.to_string() == "10.1.0.0/16");
    REQUIRE(r->gateway);
    CHECK(r->gateway->to_string() == "192.168.1.1");
    CHECK(r->oif == 2);
    CHECK(r->metric == 100);
    CHECK(r->table == RT_TABLE_MAIN);
}

TEST_CASE("local and unreachable route types, IPv6", "[rtnl]") {
    Message local(RTM_NEWROUTE, route_hdr(AF_INET, 32, RT_TABLE_LOCAL, RTN_LOCAL, RT_SCOPE_HOST));
    local.u32(RTA_TABLE, RT_TABLE_LOCAL).addr(RTA_DST, "127.0.0.1").u32(RTA_OIF, 1);
    auto l = parse_route(local.nlh);
    REQUIRE(l);
    CHECK(l->type == RouteType::local);
    CHECK(l->table == RT_TABLE_LOCAL);
    CHECK(l->scope == RT_SCOPE_HOST);
    CHECK(l->dst.to_string() == "127.0.0.1");

    Message unreach(RTM_NEWROUTE, route_hdr(AF_INET6, 48, RT_TABLE_MAIN, RTN_UNREACHABLE));
    unreach.u32(RTA_TABLE, RT_TABLE_MAIN).addr(RTA_DST, "2001:db8:1::").u32(RTA_PRIORITY, 1024);
    auto u = parse_route(unreach.nlh);
    REQUIRE(u);
    CHECK(u->family == Family::ipv6);
    CHECK(u->type == RouteType::unreachable);
    CHECK(u->dst.to_string() == "2001:db8:1::/48");
    CHECK(u->metric == 1024);
}

TEST_CASE("multipath route keeps its first nexthop", "[rtnl]") {
    Message m(RTM_NEWROUTE, route_hdr(AF_INET, 0, RT_TABLE_MAIN, RTN_UNICAST));
    m.u32(RTA_TABLE, RT_TABLE_MAIN);
    nlattr* mp = mnl_attr_nest_start(m.nlh, RTA_MULTIPATH);
    for (auto [ifindex, gw] : {std::pair{3, "10.0.0.1"}, std::pair{4, "10.0.1.1"}}) {
        auto* nh = static_cast<rtnexthop*>(mnl_nlmsg_get_payload_tail(m.nlh));
        m.nlh->nlmsg_len += MNL_ALIGN(sizeof(rtnexthop));
        *nh = rtnexthop{};
        nh->rtnh_ifindex = ifindex;
        m.addr(RTA_GATEWAY, gw);
        nh->rtnh_len = static_cast<unsigned short>(reinterpret_cast<char*>(mnl_nlmsg_get_payload_tail(m.nlh)) -
                                                   reinterpret_cast<char*>(nh));
    }
    mnl_attr_nest_end(m.nlh, mp);
    auto r = parse_route(m.nlh);
    REQUIRE(r);
    CHECK(r->oif == 3);
    REQUIRE(r->gateway);
    CHECK(r->gateway->to_string() == "10.0.0.1");
}

TEST_CASE("cloned (cache) routes and other families are skipped", "[rtnl]") {
    auto hdr = route_hdr(AF_INET6, 128, RT_TABLE_MAIN, RTN_UNICAST);
    hdr.rtm_flags = RTM_F_CLONED;
    Message cloned(RTM_NEWROUTE, hdr);
    cloned.addr(RTA_DST, "2001:db8::1");
    CHECK_FALSE(parse_route(cloned.nlh));
    Message mpls(RTM_NEWROUTE, route_hdr(AF_MPLS, 20, RT_TABLE_MAIN, RTN_UNICAST));
    CHECK_FALSE(parse_route(mpls.nlh));
}

TEST_CASE("link: index, name, group", "[rtnl]") {
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    ifi.ifi_index = 7;
    Message m(RTM_NEWLINK, ifi);
    m.str(IFLA_IFNAME, "wg0").u32(IFLA_MTU, 1420).u32(IFLA_GROUP, 5);
    auto l = parse_link(m.nlh);
    REQUIRE(l);
    CHECK(l->ifindex == 7);
    CHECK(l->name == "wg0");
    CHECK(l->group == 5);
    Message rule(RTM_NEWRULE, rule_hdr(AF_INET, 1, FR_ACT_TO_TBL));
    CHECK_FALSE(parse_link(rule.nlh));
}

TEST_CASE("rt_tables files: decimal, hex, comments", "[rtnl]") {
    std::map<uint32_t, std::string> names;
    parse_rt_tables("#\n# reserved values\n#\n255\tlocal\n254\tmain\n0x100 hexed  # comment\n51820 wg\n"
                    "garbage\n  42   answer\n",
                    names);
    CHECK(names.at(255) == "local");
    CHECK(names.at(256) == "hexed");
    CHECK(names.at(51820) == "wg");
    CHECK(names.at(42) == "answer");
    CHECK(names.size() == 5);
}
