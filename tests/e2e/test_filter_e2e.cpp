// End-to-end: a tcpdump-syntax expression picks packets in the kernel. Root only.
#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "watch_run.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using namespace wgbpf::e2e;

namespace {

std::string headlines(const std::vector<json>& ts) {
    std::string out;
    for (const json& t : ts)
        out += "#" + std::to_string(t.value("id", 0)) + " " + str_field(t, "proto").value_or("?") + " " +
               str_field(t, "src").value_or("?") + " -> " + str_field(t, "dst").value_or("?") + " " +
               str_field(t, "outcome").value_or("?") + (t.contains("outer_of") ? " outer of " + t["outer_of"].dump() : "") +
               "\n";
    return out;
}

bool is_echo_of_target(const json& t) {
    return str_field(t, "proto") == "icmp" &&
           (str_field(t, "src") == std::string(kTarget) || str_field(t, "dst") == std::string(kTarget));
}

} // namespace

TEST_CASE("filter: an expression picks one flow while UDP streams through the tunnel to the same host: only its "
          "timelines, each echo request with the outer packet that carried it",
          "[e2e][filter]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    std::optional<Process> server, client;
    WatchOutput out = watch_while(
        lab,
        [&] {
            server.emplace("exec ip netns exec " + sh_quote(lab.server_ns()) + " iperf3 -s -1 -B " + kTarget +
                           " >/dev/null 2>&1");
            std::this_thread::sleep_for(500ms);
            client.emplace("exec ip netns exec " + sh_quote(lab.client_ns()) + " iperf3 -u -b 50M -l 1000 -t 4 -c " +
                           kTarget + " >/dev/null 2>&1");
            std::this_thread::sleep_for(1s);
            CHECK(lab.exec("client", std::string("ping -n -c 3 -i 0.3 ") + kTarget, 20s).status == 0);
            CHECK(lab.exec("client", "ping -n -c 2 -i 0.3 10.0.0.254", 20s).status == 0); // not picked
            client.reset();
            server.reset();
        },
        10, std::string("'icmp and host ") + kTarget + "'");
    CHECK(out.exit_status == 0);
    std::vector<json> ts = out.of_kind("timeline");
    INFO(ts.size() << " timelines:\n" << headlines(ts));

    // Anything else is the outer packet of a picked inner packet, or a packet whose buffer reused the address of
    // a picked one that the kernel freed, in the watched namespace, where no tracepoint fires (its watch lasts up
    // to 2 s: docs/filters.md), with its own outer packet. The stream sends ~6000 packets a second for 4 s: a
    // filter that did not work would show thousands.
    int requests = 0, replies = 0, reused = 0;
    for (const json& t : ts) {
        if (is_echo_of_target(t)) {
            requests += int_field(t, "icmp_type") == 8;
            replies += int_field(t, "icmp_type") == 0;
            continue;
        }
        const json* inner = t.value("outer_of", json()).is_null() ? nullptr : by_id(ts, t["outer_of"]);
        if (inner && is_echo_of_target(*inner)) continue;
        INFO("not picked, and not the outer packet of a picked one: " << t.dump());
        ++reused;
    }
    CHECK(reused <= 4);
    CHECK(requests == 3);
    CHECK(replies == 3);
    for (const json& t : ts) {
        if (!is_echo_of_target(t) || int_field(t, "icmp_type") != 8) continue;
        CHECK(str_field(t, "outcome") == "encapsulated");
        REQUIRE(t.contains("encapsulated_in"));
        const json* outer = by_id(ts, t["encapsulated_in"]);
        REQUIRE(outer);
        CHECK(str_field(*outer, "proto") == "udp");
        CHECK(has_step(*outer, "device", [](const json& s) { return str_field(s, "direction") == "egress"; }));
        CHECK(has_step(t, "route", [](const json& s) { return int_field(s, "rule") == 32765; }));
    }
    // Nothing the expression rejects reached user space: the flood lost nothing.
    for (const json& summary : out.of_kind("summary")) {
        CHECK(summary.value("lost", json(0)) == json(0));
        CHECK(summary.value("filter_undecided", json()) == json(0)); // this expression reads only the headers
    }
}

TEST_CASE("filter: the expression on outer packets picks them, and follows the inner packets they carry",
          "[e2e][filter]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    WatchOutput out = watch_while(
        lab, [&] { CHECK(lab.exec("client", std::string("ping -n -c 2 -i 0.3 ") + kTarget, 20s).status == 0); }, 8,
        std::string("'udp and host ") + kEndpoint + "'");
    CHECK(out.exit_status == 0);
    std::vector<json> ts = out.of_kind("timeline");
    INFO(ts.size() << " timelines:\n" << headlines(ts));
    int decapsulated = 0;
    for (const json& t : ts) {
        if (str_field(t, "proto") == "udp") continue; // picked by the expression
        // An inner packet: the reply that came out of a picked outer packet.
        REQUIRE(is_echo_of_target(t));
        CHECK(int_field(t, "icmp_type") == 0);
        decapsulated += t.contains("decapsulated_from");
    }
    CHECK(decapsulated == 2);
}

TEST_CASE("filter: --sample 2 follows about half the flows, each whole, with their outer packets",
          "[e2e][filter][host]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    constexpr int kFlows = 24;
    constexpr const char* kSink = "198.51.100.77"; // routed into the tunnel by the client, a blackhole on the server
    REQUIRE(lab.exec("server", std::string("ip route add blackhole ") + kSink + "/32").status == 0);
    WatchOutput out = watch_while(
        lab,
        [&] {
            // Each flow: one socket, three datagrams to its own port, to an address the server drops silently (a
            // port unreachable would fail the socket's next send).
            std::string sends;
            for (int i = 0; i < kFlows; ++i)
                sends += "exec 3>/dev/udp/" + std::string(kSink) + "/" + std::to_string(2000 + i) +
                         "; for n in 1 2 3; do echo x >&3; sleep 0.02; done; exec 3>&-; ";
            CHECK(lab.exec("client", "bash -c " + sh_quote(sends), 30s).status == 0);
        },
        8, "--sample 2");
    CHECK(out.exit_status == 0);
    std::vector<json> ts = out.of_kind("timeline");
    INFO(ts.size() << " timelines:\n" << headlines(ts));
    std::map<int64_t, int> per_flow; // destination port: datagrams shown
    for (const json& t : ts) {
        if (str_field(t, "dst") != std::string(kSink) || str_field(t, "proto") != "udp") continue;
        auto port = int_field(t, "dport");
        REQUIRE(port);
        if (*port < 2000 || *port >= 2000 + kFlows) continue;
        ++per_flow[*port];
        CHECK(str_field(t, "outcome") == "encapsulated");
        CHECK_FALSE(t.value("encapsulated_in", json()).is_null());
    }
    for (const auto& [port, shown] : per_flow) {
        INFO("flow to port " << port);
        CHECK(shown == 3); // a flow is sampled whole, or not at all
    }
    // 1 in 2 by a keyed hash: all or none of 24 flows has a chance of 2 in 16 million.
    CHECK(per_flow.size() > 0);
    CHECK(per_flow.size() < size_t(kFlows));
}
