// End-to-end: the client's policy routing as other tools than wg-quick set it up (tests/data/labs/):
// NetworkManager's full tunnel, systemd-networkd's, and a split tunnel. Every route step must say what
// `ip route get` says, and the reply's rp_filter story must be the kernel's. Root only.
#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "watch_run.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using namespace wgbpf::e2e;

namespace {

// The device `ip route get` names, in the client namespace.
std::string route_get_dev(const Lab& lab, const std::string& args) {
    std::string out = lab.exec("client", "ip -4 route get " + args).output;
    size_t at = out.find(" dev ");
    if (at == std::string::npos) return "";
    size_t end = out.find(' ', at + 5);
    return out.substr(at + 5, end - at - 5);
}

// wg-quick's policy rules and nftables table, removed: the variant sets up its own.
void drop_wg_quick_policy(const Lab& lab) {
    const std::string wg = lab.wg_iface();
    RunResult r = lab.exec("client", "ip -4 rule del not fwmark 51820 table 51820 && "
                                     "ip -4 rule del table main suppress_prefixlength 0 && "
                                     "nft delete table ip wg-quick-" +
                                         wg);
    INFO(r.output);
    REQUIRE(r.status == 0);
}

struct Story {
    const json* request = nullptr;     // the echo request, into the tunnel
    const json* outer = nullptr;       // its encrypted outer packet
    const json* outer_reply = nullptr; // the encrypted reply
    std::vector<json> timelines;
};

Story ping_once(const Lab& lab) {
    Story s;
    WatchOutput out = watch_while(lab, [&] { lab.exec("client", std::string("ping -n -c 1 -W 2 ") + kTarget, 10s); });
    CHECK(out.exit_status == 0);
    s.timelines = out.of_kind("timeline");
    s.request = find_timeline(s.timelines, [](const json& t) {
        return str_field(t, "src") == kClientTunnel && str_field(t, "dst") == kTarget && int_field(t, "icmp_type") == 8;
    });
    if (s.request && !(*s.request)["encapsulated_in"].is_null())
        s.outer = find_timeline(s.timelines, [&](const json& t) { return t["id"] == (*s.request)["encapsulated_in"]; });
    s.outer_reply = find_timeline(s.timelines, [](const json& t) {
        return str_field(t, "src") == kEndpoint && str_field(t, "dst") == kClientLan && str_field(t, "proto") == "udp";
    });
    return s;
}

// The packet's own output decision (not a re-route).
const json* output_route(const json& t) {
    for (const json& s : array_field(t, "steps"))
        if (str_field(s, "kind") == "route" && str_field(s, "direction") == "output" && !s.value("reroute", false))
            return &s;
    return nullptr;
}

// The request's own route decision: decided by `rule` in `table`, to the device `ip route get` names.
void check_request_route(const Lab& lab, const Story& s, int64_t rule, int64_t table) {
    REQUIRE(s.request);
    const json* route = output_route(*s.request);
    REQUIRE(route);
    CHECK(int_field(*route, "rule") == rule);
    CHECK(int_field(*route, "table") == table);
    CHECK(str_field(*route, "oif") == route_get_dev(lab, kTarget));
}

// The one rp_filter step of the encrypted reply.
json reply_rp_filter(const Story& s) {
    REQUIRE(s.outer_reply);
    std::vector<json> rp = steps_of(*s.outer_reply, "rp_filter");
    REQUIRE(rp.size() == 1);
    return rp[0];
}

} // namespace

TEST_CASE("policy: NetworkManager's full tunnel (rules P/P+1, table = fwmark, loose rp_filter)", "[e2e][policy]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    const std::string wg = lab.wg_iface();
    drop_wg_quick_policy(lab);
    // nm-device-wireguard.c: fwmark = table F, rule P `suppress_prefixlength 0`, rule P+1 `not fwmark F
    // table F`, the default route in F with metric 50. F and P derive from the connection's UUID.
    RunResult r = lab.exec("client", "wg set " + sh_quote(wg) +
                                         " fwmark 52008 && "
                                         "ip route add default dev " +
                                         sh_quote(wg) +
                                         " table 52008 metric 50 proto static && "
                                         "ip -4 rule add pref 31394 table main suppress_prefixlength 0 && "
                                         "ip -4 rule add pref 31395 not fwmark 52008 table 52008 && "
                                         "sysctl -qw net.ipv4.conf.all.rp_filter=2");
    INFO(r.output);
    REQUIRE(r.status == 0);
    Story s = ping_once(lab);
    INFO(describe(s.timelines));
    check_request_route(lab, s, 31395, 52008);
    CHECK(route_get_dev(lab, kTarget) == wg);
    REQUIRE(s.outer);
    if (const json* outer_route = output_route(*s.outer)) { // kernel WireGuard may use its cached route
        CHECK(int_field(*outer_route, "rule") == 32766);
        CHECK(str_field(*outer_route, "oif") == route_get_dev(lab, std::string(kEndpoint) + " mark 52008"));
    }
    // Loose mode: a route back to the endpoint exists (through the tunnel, without the mark): pass.
    json rp = reply_rp_filter(s);
    CHECK(str_field(rp, "mode") == "loose");
    CHECK(str_field(rp, "result") == "pass");
}

TEST_CASE("policy: systemd-networkd (FirewallMark = RouteTable = 0xa22a61a9 > 2^31, no src_valid_mark, strict "
          "rp_filter): the reply dies at rp_filter, and the timeline says why",
          "[e2e][policy]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    const std::string wg = lab.wg_iface();
    drop_wg_quick_policy(lab);
    // As wg2nd generates for networkd: table = mark = 2720686505, rules 32764/32765, wg-quick's nftables
    // (marks restored from conntrack) under the interface's name; src_valid_mark left at 0.
    RunResult r = lab.exec(
        "client",
        "wg set " + sh_quote(wg) +
            " fwmark 0xa22a61a9 && "
            "ip route add default dev " +
            sh_quote(wg) +
            " table 2720686505 && "
            "ip -4 rule add pref 32764 table main suppress_prefixlength 0 && "
            "ip -4 rule add pref 32765 not fwmark 0xa22a61a9 table 2720686505 && "
            "sysctl -qw net.ipv4.conf.all.src_valid_mark=0 && "
            "nft -f - <<'EOF'\n"
            "table ip networkd-wg {\n"
            "  chain premangle { type filter hook prerouting priority mangle; meta l4proto udp meta mark set ct mark; }\n"
            "  chain postmangle { type filter hook postrouting priority mangle; meta l4proto udp meta mark 0xa22a61a9 ct mark set meta mark; }\n"
            "}\n"
            "EOF");
    INFO(r.output);
    REQUIRE(r.status == 0);
    Story s = ping_once(lab);
    INFO(describe(s.timelines));
    check_request_route(lab, s, 32765, 2720686505LL);
    json rp = reply_rp_filter(s);
    CHECK(str_field(rp, "mode") == "strict");
    CHECK(str_field(rp, "result") == "fail");
    CHECK(str_field(rp, "reverse_oif") == wg);
    CHECK_FALSE(rp.value("src_valid_mark", true));
    CHECK(str_field(*s.outer_reply, "outcome") == "dropped");
    bool rpfilter_drop = false;
    for (const json& d : steps_of(*s.outer_reply, "drop")) rpfilter_drop |= str_field(d, "reason") == "IP_RPFILTER";
    CHECK(rpfilter_drop);
}

TEST_CASE("policy: a split tunnel (a few allowed prefixes routed in main, no fwmark rules)", "[e2e][policy]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    const std::string wg = lab.wg_iface();
    drop_wg_quick_policy(lab);
    RunResult r = lab.exec("client", "wg set " + sh_quote(wg) +
                                         " fwmark 0 && "
                                         "ip route add 198.51.100.0/24 dev " +
                                         sh_quote(wg));
    INFO(r.output);
    REQUIRE(r.status == 0);
    Story s = ping_once(lab);
    INFO(describe(s.timelines));
    check_request_route(lab, s, 32766, 254);
    CHECK(str_field(*output_route(*s.request), "prefix") == "198.51.100.0/24");
    REQUIRE(s.outer);
    CHECK(int_field(*s.outer, "mark") == 0);
    json rp = reply_rp_filter(s);
    CHECK(str_field(rp, "result") == "pass");
    CHECK(str_field(rp, "reverse_oif") == "c0");
    CHECK(str_field(*s.outer_reply, "outcome") == "decapsulated");
}

TEST_CASE("policy: the Mullvad app's kill switch (tests/data/labs/mullvad.nft: prerouting at -199 beside conntrack, "
          "policy drop, a route chain, mark 0x6d6f6c65 as fwmark and table)",
          "[e2e][policy]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    const std::string wg = lab.wg_iface();
    drop_wg_quick_policy(lab);
    const std::string ruleset = std::string(WGBPF_SOURCE_DIR) + "/tests/data/labs/mullvad.nft";
    // talpid-routing: table and fwmark 0x6d6f6c65 (1836018789), rules 32764/32765 as the kernel numbers them.
    RunResult r = lab.exec("client", "wg set " + sh_quote(wg) +
                                         " fwmark 0x6d6f6c65 && "
                                         "ip route add default dev " +
                                         sh_quote(wg) +
                                         " table 1836018789 proto static && "
                                         "ip -4 rule add not fwmark 0x6d6f6c65 table 1836018789 && "
                                         "ip -4 rule add table main suppress_prefixlength 0 && "
                                         "sysctl -qw net.ipv4.conf.all.src_valid_mark=1 && "
                                         "sed 's/^define WG_IF = .*/define WG_IF = \"" +
                                         wg + "\"/' " + sh_quote(ruleset) + " | nft -f -");
    INFO(r.output);
    REQUIRE(r.status == 0);
    lab.exec("client", "conntrack -F 2>/dev/null || true");
    Story s = ping_once(lab);
    INFO(describe(s.timelines));
    RunResult ct = lab.exec("client", "conntrack -L -p udp 2>/dev/null");
    INFO("conntrack: " << ct.output);

    // The request: into the tunnel by the app's table.
    check_request_route(lab, s, 32765, 1836018789);
    CHECK(str_field(*s.request, "outcome") == "encapsulated");

    // Its outer packet: the fwmark skips the tunnel table; the output chain's relay rule lets it out.
    REQUIRE(s.outer);
    CHECK(int_field(*s.outer, "mark") == 0x6d6f6c65);
    if (const json* outer_route = output_route(*s.outer)) {
        CHECK(int_field(*outer_route, "rule") == 32766);
        CHECK(str_field(*outer_route, "oif") == route_get_dev(lab, std::string(kEndpoint) + " mark 0x6d6f6c65"));
    }

    // The reply: marked in prerouting at -199 (the netfilter module runs beside conntrack), rp_filter passes
    // with that mark, the input chain accepts the established flow, WireGuard takes it.
    REQUIRE(s.outer_reply);
    bool marked = false;
    for (const json& st : steps_of(*s.outer_reply, "netfilter"))
        marked |= str_field(st, "table") == "mullvad" && str_field(st, "chain") == "prerouting" &&
                  int_field(st, "priority") == -199 && int_field(st, "mark_after") == 0x6d6f6c65;
    CHECK(marked);
    json rp = reply_rp_filter(s);
    CHECK(str_field(rp, "result") == "pass");
    CHECK(str_field(rp, "reverse_oif") == "c0");
    CHECK(str_field(*s.outer_reply, "outcome") == "decapsulated");

    // The app sets no conntrack mark on tunnel traffic (conntrack -L agrees): no step may claim one.
    CHECK(ct.output.find("dport=51820") != std::string::npos);
    CHECK(ct.output.find("mark=0 ") != std::string::npos);
    for (const json& t : s.timelines) {
        CHECK(str_field(t, "outcome") != "forwarded");
        for (const json& st : steps_of(t, "netfilter")) {
            INFO(st.dump());
            CHECK((st["ct_mark_after"].is_null() || st["ct_mark_after"] == 0));
        }
    }
}
