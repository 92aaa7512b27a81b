// End-to-end: the routing slice on the seed topology (scripts/lab.sh). Root only; skips otherwise.
#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "watch_run.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using namespace wgbpf::e2e;

namespace {

// The decision's fields are at the top level of a route line (rule, table, table_name, result,
// oif, gateway, prefix); accept them in a nested "decision" object too.
const json& decision(const json& route) {
    auto it = route.find("decision");
    return it != route.end() && it->is_object() ? *it : route;
}

struct Step {
    int64_t rule;
    int64_t table;
    const char* result;
};

// The lookups contain these steps, in this order (other steps may come between).
bool lookups_in_order(const json& route, const std::vector<Step>& want) {
    size_t next = 0;
    for (const json& l : array_field(route, "lookups")) {
        if (next == want.size()) break;
        const Step& w = want[next];
        if (int_field(l, "rule") == w.rule && int_field(l, "table") == w.table && str_field(l, "result") == w.result)
            ++next;
    }
    return next == want.size();
}

bool skipped_rule(const json& route, int64_t rule) {
    for (const json& s : array_field(route, "skipped"))
        if (int_field(s, "rule") == rule) return true;
    return false;
}

// The seed's outgoing ping: local misses, main's default route is suppressed (suppress_prefixlength
// 0), table 51820 sends it into the tunnel.
bool is_tunnelled_ping(const json& r, const std::string& wg) {
    const json& d = decision(r);
    return str_field(r, "direction") == "output" && str_field(r, "dst") == kTarget && int_field(r, "mark") == 0 &&
           lookups_in_order(r, {{0, 255, "miss"}, {32764, 254, "suppressed"}, {32765, kFwmark, "hit"}}) &&
           int_field(d, "rule") == 32765 && int_field(d, "table") == kFwmark && str_field(d, "oif") == wg;
}

// WireGuard's own encrypted packet: fwmark 51820 skips rule 32765, main's default route via c0.
bool is_marked_endpoint_packet(const json& r) {
    const json& d = decision(r);
    return str_field(r, "direction") == "output" && str_field(r, "dst") == kEndpoint &&
           int_field(r, "mark") == kFwmark && skipped_rule(r, 32765) && int_field(d, "rule") == 32766 &&
           int_field(d, "table") == 254 && str_field(d, "table_name") == "main" && str_field(d, "oif") == "c0";
}

std::string summary(const json& r) {
    const json& d = decision(r);
    auto field = [](const json& j, const char* key) { return j.contains(key) ? j[key].dump() : std::string("?"); };
    return field(r, "direction") + " " + field(r, "src") + " -> " + field(r, "dst") + " mark " + field(r, "mark") +
           " => rule " + field(d, "rule") + " table " + field(d, "table") + " oif " + field(d, "oif") + " result " +
           field(d, "result");
}

} // namespace

TEST_CASE("lab: the seed topology with wg-quick's policy routing", "[e2e][lab]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    INFO("lab.sh up:\n" << lab.up_log());

    RunResult rules = lab.exec("client", "ip -4 rule show");
    REQUIRE(rules.status == 0);
    INFO("ip rule:\n" << rules.output);
    CHECK(rules.output.find("0:\tfrom all lookup local") != std::string::npos);
    CHECK(rules.output.find("32764:\tfrom all lookup main suppress_prefixlength 0") != std::string::npos);
    CHECK(rules.output.find("32765:\tnot from all fwmark 0xca6c lookup 51820") != std::string::npos);
    CHECK(rules.output.find("32766:\tfrom all lookup main") != std::string::npos);
    CHECK(rules.output.find("32767:\tfrom all lookup default") != std::string::npos);

    RunResult table = lab.exec("client", "ip -4 route show table 51820");
    CHECK(table.output.find("default dev " + lab.wg_iface()) != std::string::npos);

    RunResult tables = lab.exec("client", "nft list tables");
    INFO("nft list tables:\n" << tables.output);
    CHECK(tables.output.find("table inet filter") != std::string::npos);
    CHECK(tables.output.find("table ip wg-quick-" + lab.wg_iface()) != std::string::npos);

    CHECK(lab.exec("client", "sysctl -n net.ipv4.conf.all.rp_filter").output == "1\n");
    CHECK(lab.exec("client", "sysctl -n net.ipv4.conf.all.src_valid_mark").output == "1\n");

    RunResult get = lab.exec("client", std::string("ip route get ") + kTarget);
    CHECK(get.output.find("dev " + lab.wg_iface()) != std::string::npos);
    RunResult ping = lab.exec("client", std::string("ping -n -c 1 -W 2 ") + kTarget);
    INFO("ping:\n" << ping.output);
    CHECK(ping.status == 0);
}

TEST_CASE("route: the seed's routing decisions, rule by rule", "[e2e][route]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    WatchOutput out = watch_while(
        lab,
        [&] {
            // Kernel WireGuard caches the route to its peer (per CPU) since the lab's own check: invalidate it in the
            // lab's namespace so the outer packets are routed, and seen, again.
            lab.exec("client", "ip route flush cache");
            RunResult ping = lab.exec("client", std::string("ping -n -c 2 ") + kTarget, 20s);
            INFO("ping:\n" << ping.output);
            CHECK(ping.status == 0);
        },
        8, "--steps");
    INFO("wgbpf stdout:\n" << out.stdout_text);
    CHECK(out.exit_status == 0); // --duration: it ends by itself
    std::vector<json> routes = out.of_kind("route");
    std::string seen;
    for (const json& r : routes) seen += "  " + summary(r) + "\n";
    INFO(routes.size() << " route decisions:\n" << seen);
    REQUIRE_FALSE(routes.empty());

    // 1. The ping into the tunnel: local miss, main suppressed, 51820 hit -> wg0.
    bool tunnelled = false;
    for (const json& r : routes) tunnelled = tunnelled || is_tunnelled_ping(r, lab.wg_iface());
    CHECK(tunnelled);

    // 2. WireGuard's UDP to the endpoint, fwmark 51820: rule 32765 skipped, main -> c0.
    bool endpoint = false;
    for (const json& r : routes) endpoint = endpoint || is_marked_endpoint_packet(r);
    CHECK(endpoint);

    // 3. rp_filter's reverse lookups for the replies: the outer one (a reply from the endpoint,
    //    looked up as src 192.168.178.48 -> 203.0.113.123) and/or the inner one (from 198.51.100.9
    //    arriving on wg0, looked up towards 198.51.100.9).
    bool reverse = false;
    for (const json& r : routes) {
        if (str_field(r, "direction") != "reverse") continue;
        bool outer = str_field(r, "src") == kClientLan && str_field(r, "dst") == kEndpoint;
        bool inner = str_field(r, "dst") == kTarget;
        reverse = reverse || outer || inner;
    }
    CHECK(reverse);
}
