// End-to-end: the lab's WireGuard server watched from its own side, as a road-warrior gateway is
// (angristan/wireguard-install: peers with no Endpoint, learned when they first send), with 200 peers.
// Root only.
#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "watch_run.hpp"

using nlohmann::json;
using namespace wgbpf::e2e;

namespace {

// `wg show IF allowed-ips` for one peer, as `wg set` takes them ("10.0.0.1/32,fd10::1/128").
std::string allowed_ips(const Lab& lab, const std::string& role, const std::string& iface, const std::string& key) {
    std::string out = lab.exec(role, "wg show " + sh_quote(iface) + " allowed-ips | grep -F " + sh_quote(key) +
                                         " | cut -f2 | tr ' ' ','")
                          .output;
    return trimmed(out);
}

std::vector<json> wireguard_steps(const json& t) {
    std::vector<json> out;
    for (const json& s : array_field(t, "steps"))
        if (str_field(s, "kind") == "wireguard") out.push_back(s);
    return out;
}

} // namespace

TEST_CASE("server: 200 peers without endpoints, a peer roaming in is followed from its first packet, "
          "decrypted packets linked to their outer packets and the peer named",
          "[e2e][server]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    const std::string wgs = lab.server_wg_iface();
    const std::string client_key =
        trimmed(lab.exec("client", "wg show " + sh_quote(lab.wg_iface()) + " public-key").output);
    const std::string server_key = trimmed(lab.exec("server", "wg show " + sh_quote(wgs) + " public-key").output);
    REQUIRE(!client_key.empty());
    REQUIRE(!server_key.empty());

    // 199 more peers, none with an endpoint (the server learns endpoints from authenticated packets).
    RunResult added =
        lab.exec("server",
                 "for i in $(seq 1 199); do wg set " + sh_quote(wgs) +
                     " peer \"$(wg genkey | wg pubkey)\" allowed-ips 10.9.$((i / 200)).$((i % 200 + 1))/32"
                     " || exit 1; done",
                 std::chrono::seconds(120));
    REQUIRE(added.status == 0);
    REQUIRE(trimmed(lab.exec("server", "wg show " + sh_quote(wgs) + " peers | wc -l").output) == "200");

    // Forget the client's endpoint and sessions on both sides: the next ping makes a new handshake, and the
    // server learns the client's endpoint only after wgbpf has read its configuration.
    const std::string server_allowed = allowed_ips(lab, "server", wgs, client_key);
    const std::string client_allowed = allowed_ips(lab, "client", lab.wg_iface(), server_key);
    REQUIRE(!server_allowed.empty());
    REQUIRE(!client_allowed.empty());
    REQUIRE(lab.exec("server", "wg set " + sh_quote(wgs) + " peer " + sh_quote(client_key) + " remove && wg set " +
                                   sh_quote(wgs) + " peer " + sh_quote(client_key) + " allowed-ips " +
                                   sh_quote(server_allowed))
                .status == 0);
    REQUIRE(lab.exec("client", "wg set " + sh_quote(lab.wg_iface()) + " peer " + sh_quote(server_key) +
                                   " remove && wg set " + sh_quote(lab.wg_iface()) + " peer " + sh_quote(server_key) +
                                   " endpoint " + std::string(kEndpoint) + ":51820 allowed-ips " +
                                   sh_quote(client_allowed))
                .status == 0);
    REQUIRE(trimmed(lab.exec("server",
                             "wg show " + sh_quote(wgs) + " endpoints | grep -F " + sh_quote(client_key) + " | cut -f2")
                        .output) == "(none)");

    WatchOutput out = watch_while(lab.server_ns(), wgs, [&] {
        RunResult ping = lab.exec("client", std::string("ping -n -c 3 -i 0.3 -W 2 ") + kTarget);
        INFO("ping: " << ping.output);
        CHECK(ping.status == 0);
    });
    CHECK(out.exit_status == 0);
    std::vector<json> timelines = out.of_kind("timeline");

    // The echo request arrived in an outer packet on the listen port, from an endpoint the configuration
    // did not have: linked, and the peer is the client.
    const json* request = find_timeline(timelines, [](const json& t) {
        return str_field(t, "src") == kClientTunnel && str_field(t, "dst") == kTarget &&
               int_field(t, "icmp_type") == 8 && t.contains("decapsulated_from") && !t["decapsulated_from"].is_null();
    });
    REQUIRE(request);
    const json* outer_in = find_timeline(
        timelines, [&](const json& t) { return t.contains("id") && t["id"] == (*request)["decapsulated_from"]; });
    REQUIRE(outer_in);
    CHECK(str_field(*outer_in, "proto") == "udp");
    CHECK(int_field(*outer_in, "dport") == 51820);
    REQUIRE(!wireguard_steps(*request).empty());
    CHECK(str_field(wireguard_steps(*request)[0], "peer") == client_key);
    CHECK(str_field(wireguard_steps(*outer_in)[0], "action") == "decrypt");
    CHECK(str_field(wireguard_steps(*outer_in)[0], "peer") == client_key);

    // The reply goes back to the endpoint the peer roamed in from: linked to its outer packet too.
    const json* reply = find_timeline(timelines, [](const json& t) {
        return str_field(t, "src") == kTarget && str_field(t, "dst") == kClientTunnel &&
               int_field(t, "icmp_type") == 0 && t.contains("encapsulated_in") && !t["encapsulated_in"].is_null();
    });
    REQUIRE(reply);
    const json* outer_out = find_timeline(
        timelines, [&](const json& t) { return t.contains("id") && t["id"] == (*reply)["encapsulated_in"]; });
    REQUIRE(outer_out);
    CHECK(int_field(*outer_out, "sport") == 51820);
    CHECK(str_field(wireguard_steps(*outer_out)[0], "peer") == client_key);
}

TEST_CASE("server: a road-warrior gateway masquerading its peers: request and reply are each one timeline, "
          "the translation shown where it happens",
          "[e2e][server]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    const std::string wgs = lab.server_wg_iface();
    // angristan/wireguard-install's PostUp, in nftables: masquerade what the peers send out the uplink.
    RunResult nat = lab.exec("server", kMasqueradePeers);
    INFO(nat.output);
    REQUIRE(nat.status == 0);
    const char* uplink_peer = "203.0.113.1"; // the router, beyond the gateway's uplink
    WatchOutput out = watch_while(
        lab.server_ns(), wgs,
        [&] {
            RunResult ping = lab.exec("client", std::string("ping -n -c 1 -W 2 ") + uplink_peer);
            INFO("ping: " << ping.output);
            CHECK(ping.status == 0);
        },
        6);
    CHECK(out.exit_status == 0);
    std::vector<json> timelines = out.of_kind("timeline");
    auto has_text = [](const json& t, const char* where, const std::string& part) {
        for (const json& s : array_field(t, "steps"))
            if (s.contains(where))
                for (const json& n : s[where])
                    if (n.get<std::string>().find(part) != std::string::npos) return true;
        for (const json& n : array_field(t, where))
            if (n.get<std::string>().find(part) != std::string::npos) return true;
        return false;
    };

    // The request: decrypted, routed out the uplink, its source masqueraded there.
    const json* request = find_timeline(timelines, [&](const json& t) {
        return str_field(t, "src") == kClientTunnel && str_field(t, "dst") == uplink_peer &&
               int_field(t, "icmp_type") == 8;
    });
    REQUIRE(request);
    CHECK(str_field(*request, "outcome") == "forwarded");
    CHECK_FALSE((*request)["decapsulated_from"].is_null());
    CHECK(has_text(*request, "notes", "src rewritten"));
    CHECK(has_text(*request, "notes", "-> 203.0.113.123"));

    // The reply: from its arrival on the uplink (to the masqueraded address), translated back before routing,
    // into the tunnel; no NAT chain shown (they run only for a connection's first packet).
    const json* reply = find_timeline(
        timelines, [&](const json& t) { return str_field(t, "src") == uplink_peer && int_field(t, "icmp_type") == 0; });
    REQUIRE(reply);
    const json& steps = array_field(*reply, "steps");
    REQUIRE(!steps.empty());
    CHECK(str_field(steps[0], "kind") == "device");
    CHECK(str_field(steps[0], "direction") == "ingress");
    CHECK(str_field(*reply, "dst") == "203.0.113.123");
    CHECK(has_text(*reply, "notes", "dst rewritten before routing: 203.0.113.123 -> 10.0.0.1"));
    CHECK(str_field(*reply, "outcome") == "encapsulated");
    CHECK_FALSE((*reply)["encapsulated_in"].is_null());
    for (const json& s : steps) CHECK_FALSE((str_field(s, "kind") == "netfilter" && str_field(s, "table") == "nat"));
}
