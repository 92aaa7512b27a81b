// End-to-end: a WireGuard interface moved out of the namespace it was created in (wireguard.com/netns, as
// containers and vopono do): its inner packets in one namespace, its outer UDP packets in another, and
// `watch --netns A --netns B` (or `--netns all`) linking them. Root only; the VMs run it on kernel WireGuard.
#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "watch_run.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using namespace wgbpf::e2e;

namespace {

const json* echo_request(const std::vector<json>& ts) {
    return find_timeline(ts, [](const json& t) {
        return str_field(t, "src") == kClientTunnel && str_field(t, "dst") == kTarget && int_field(t, "icmp_type") == 8;
    });
}

const json* echo_reply(const std::vector<json>& ts) {
    return find_timeline(ts, [](const json& t) {
        return str_field(t, "src") == kTarget && str_field(t, "dst") == kClientTunnel && int_field(t, "icmp_type") == 0;
    });
}

// The namespace inodes the ready line lists, by name.
std::map<std::string, int64_t> watched_namespaces(const WatchOutput& out) {
    std::map<std::string, int64_t> by_name;
    for (const json& ready : out.of_kind("ready"))
        if (ready.contains("namespaces"))
            for (const json& n : ready["namespaces"]) by_name[n.value("name", "")] = n.value("netns", int64_t(0));
    return by_name;
}

void ping_from_app(const Lab& lab) {
    CHECK(lab.exec("app", std::string("ping -n -c 2 -i 0.3 ") + kTarget, 20s).status == 0);
}

// The inner echo request and reply in the container, each linked with its outer packet in the client's
// namespace (where the interface was created and its socket is).
void check_linked_across(const Lab& lab, const WatchOutput& out, const std::map<std::string, int64_t>& ns) {
    REQUIRE(ns.count(lab.app_ns()));
    REQUIRE(ns.count(lab.client_ns()));
    const int64_t app = ns.at(lab.app_ns()), client = ns.at(lab.client_ns());
    std::vector<json> ts = out.of_kind("timeline");
    INFO(ts.size() << " timelines:\n" << describe(ts));
    const bool kernel = lab.kernel_wireguard("app");
    INFO("WireGuard implementation: " << (kernel ? "kernel" : "user space"));

    const json* inner = echo_request(ts);
    REQUIRE(inner);
    CHECK(int_field(*inner, "netns") == app);
    CHECK(str_field(*inner, "outcome") == "encapsulated");
    CHECK(has_step(*inner, "wireguard", [&](const json& s) {
        return str_field(s, "action") == "encrypt" &&
               str_field(s, "linked_by") == (kernel ? "skb" : "peer_order_length");
    }));
    REQUIRE_FALSE(inner->value("encapsulated_in", json()).is_null());
    const json* outer = by_id(ts, (*inner)["encapsulated_in"]);
    REQUIRE(outer);
    CHECK(int_field(*outer, "netns") == client);
    CHECK(str_field(*outer, "src") == kClientLan);
    CHECK(str_field(*outer, "dst") == kEndpoint);
    CHECK((*outer)["outer_of"] == (*inner)["id"]);
    CHECK(has_step(*outer, "device", [](const json& s) {
        return str_field(s, "direction") == "egress" &&
               str_field(s, "dev") == "c0"; // the client's uplink, by its name there
    }));
    // The tunnel's MTU is read where the interface is, the uplink's where the outer packet left.
    CHECK(has_step(*inner, "wireguard", [](const json& s) {
        return s.contains("mtu") && s["mtu"].value("tunnel_mtu", 0) == 1420 && s["mtu"].value("device", "") == "c0";
    }));

    const json* reply = echo_reply(ts);
    REQUIRE(reply);
    CHECK(int_field(*reply, "netns") == app);
    CHECK(str_field(*reply, "outcome") == "delivered");
    REQUIRE_FALSE(reply->value("decapsulated_from", json()).is_null());
    const json* outer_reply = by_id(ts, (*reply)["decapsulated_from"]);
    REQUIRE(outer_reply);
    CHECK(int_field(*outer_reply, "netns") == client);
    CHECK(str_field(*outer_reply, "src") == kEndpoint);
}

} // namespace

TEST_CASE("netns: an interface moved into a container, its outer packets in the namespace it came from, linked",
          "[e2e][netns]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab(LabKind::container);
    WatchOutput out = watch_while(
        lab.app_ns(), lab.wg_iface(), [&] { ping_from_app(lab); }, 8, "--netns " + sh_quote(lab.client_ns()));
    CHECK(out.exit_status == 0);
    auto ns = watched_namespaces(out);
    CHECK(ns.size() == 2);
    check_linked_across(lab, out, ns);
}

TEST_CASE("netns: watching only the container says where the outer packets are, and claims nothing about them",
          "[e2e][netns]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab(LabKind::container);
    WatchOutput out = watch_while(lab.app_ns(), lab.wg_iface(), [&] { ping_from_app(lab); });
    CHECK(out.exit_status == 0);
    std::vector<json> ts = out.of_kind("timeline");
    INFO(ts.size() << " timelines:\n" << describe(ts));
    const json* inner = echo_request(ts);
    REQUIRE(inner);
    CHECK(inner->value("encapsulated_in", json()).is_null());
    CHECK(str_field(*inner, "outcome") == "unknown"); // never "encapsulated" without its outer packet seen
    // On the packet itself (kernel WireGuard found its peer; that must not turn into a guess about GSO or loss).
    auto says_not_watched = [](const json& t) {
        for (const json& g : array_field(t, "gaps"))
            if (g.is_string() &&
                g.get<std::string>().find("UDP socket is in a namespace that is not watched") != std::string::npos)
                return true;
        return false;
    };
    CHECK(says_not_watched(*inner));
    CHECK(out.stdout_text.find("\"udp\"") == std::string::npos); // no outer packet is made up
    const json* reply = echo_reply(ts);
    REQUIRE(reply);
    CHECK(reply->value("decapsulated_from", json()).is_null());
    CHECK(says_not_watched(*reply));
}

TEST_CASE("netns: --netns all finds the socket's namespace among several that bind the port", "[e2e][netns]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab(LabKind::container);
    // The server's own wgs0 binds the same port (51820) in its namespace: only the client's can be wg0's.
    RunResult probe = run_status(sh_quote(wgbpf_binary()) + " watch --netns all --duration 0.1 2>&1");
    if (probe.status == 2 && probe.output.find("name them with --netns") != std::string::npos)
        SKIP("this host has more network namespaces than one watch takes: " + trimmed(probe.output));
    REQUIRE(probe.status == 0);
    WatchOutput out = watch_while(
        "all", lab.wg_iface(), [&] { ping_from_app(lab); }, 8);
    CHECK(out.exit_status == 0);
    check_linked_across(lab, out, watched_namespaces(out));
}
