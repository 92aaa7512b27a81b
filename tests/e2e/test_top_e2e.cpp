// End-to-end: `wgbpf top` counts the lab's packets by the path they took. Root only.
#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <thread>

#include "watch_run.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using namespace wgbpf::e2e;

namespace {

bool has_hop(const json& path, const std::function<bool(const json&)>& pred) {
    for (const json& h : array_field(path, "hops"))
        if (pred(h)) return true;
    return false;
}

const json* find_path(const json& snapshot, const std::function<bool(const json&)>& pred) {
    for (const json& p : array_field(snapshot, "paths"))
        if (pred(p)) return &p;
    return nullptr;
}

std::string path_lines(const json& snapshot) {
    std::string out;
    for (const json& p : array_field(snapshot, "paths"))
        out += std::to_string(p.value("packets", 0)) + "  " + str_field(p, "text").value_or("?") + "\n";
    return out;
}

} // namespace

TEST_CASE("top: the lab's pings counted by path (the encapsulated requests, their outer packets, the replies) and "
          "a chain's drop as a path of its own, flagged dropped",
          "[e2e][top]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    WatchOutput out = wgbpf_while(
        "top --netns " + sh_quote(lab.client_ns()) + " --iface " + sh_quote(lab.wg_iface()) + " --interval 1",
        [&] {
            CHECK(lab.exec("client", std::string("ping -n -c 4 -i 0.3 ") + kTarget, 20s).status == 0);
            REQUIRE(lab.exec("client", "nft insert rule inet filter output ip daddr 10.0.0.254 drop").status == 0);
            CHECK(lab.exec("client", "ping -n -c 2 -i 0.3 -W 1 10.0.0.254", 20s).status != 0);
        },
        10);
    CHECK(out.exit_status == 0);
    std::vector<json> snapshots = out.of_kind("top");
    REQUIRE(snapshots.size() >= 3); // one a second, and the last at the end
    REQUIRE(!out.lines.empty());
    CHECK(str_field(out.lines.back(), "kind") == "summary"); // the last snapshot comes before it
    const json& last = snapshots.back();
    INFO("paths at the end:\n" << path_lines(last));
    CHECK(int_field(last, "lost_events") == 0);

    // Figure 2: rule 32765 sends the requests to table 51820 and wg0, WireGuard encrypts them.
    const json* request = find_path(last, [](const json& p) {
        return str_field(p, "outcome") == "encapsulated" &&
               has_hop(p, [](const json& h) { return int_field(h, "rule") == 32765; }) &&
               has_hop(p, [](const json& h) { return str_field(h, "action") == "encrypt"; });
    });
    REQUIRE(request);
    CHECK(int_field(*request, "packets") >= 4);
    CHECK(int_field(*request, "bytes") >= 4 * 84);
    // Their outer packets leave through c0.
    const json* outer = find_path(last, [](const json& p) {
        return str_field(p, "outcome") == "sent" &&
               has_hop(p, [](const json& h) { return str_field(h, "dev") == "c0"; });
    });
    REQUIRE(outer);
    CHECK(int_field(*outer, "packets") >= 4);
    // Figure 3: the replies are delivered.
    const json* reply = find_path(last, [](const json& p) {
        return str_field(p, "outcome") == "delivered" &&
               has_hop(p, [](const json& h) { return str_field(h, "action") == "decrypt"; });
    });
    CHECK(reply);
    // The chain that dropped, with its verdict, and the path flagged.
    const json* dropped = find_path(last, [](const json& p) {
        return p.value("dropped", false) && has_hop(p, [](const json& h) {
                   return str_field(h, "chain") == "inet filter output" && str_field(h, "verdict") == "drop";
               });
    });
    REQUIRE(dropped);
    CHECK(int_field(*dropped, "packets") == 2);
    CHECK(int_field(*dropped, "bytes") == 2 * 84);
    // Counts only grow from one snapshot to the next.
    for (size_t i = 1; i < snapshots.size(); ++i)
        CHECK(int_field(snapshots[i], "packets") >= int_field(snapshots[i - 1], "packets"));
}

TEST_CASE("metrics: --metrics serves the documented counters while the lab pings (wgbpf and the scrape inside the "
          "client's namespace)",
          "[e2e][top][host]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    const std::string ns = sh_quote(lab.client_ns());
    const std::string address = "127.0.0.1:9464";
    Process watch("exec ip netns exec " + ns + " " + sh_quote(wgbpf_binary()) + " watch --iface " +
                  sh_quote(lab.wg_iface()) + " --json --duration 20 --metrics " + address);
    require_ready(watch);
    CHECK(lab.exec("client", std::string("ping -n -c 3 -i 0.3 ") + kTarget, 20s).status == 0);
    std::string scrape;
    auto value = [&](const std::string& series) -> std::optional<double> {
        for (size_t at = scrape.find(series + " "); at != std::string::npos; at = std::string::npos)
            return std::stod(scrape.substr(at + series.size() + 1));
        return std::nullopt;
    };
    // Timelines leave once idle (about a second after their last step); the counters follow.
    for (int i = 0; i < 40; ++i) {
        scrape = run_status("ip netns exec " + ns + " curl -s --max-time 5 http://" + address + "/metrics").output;
        if (value("wgbpf_packets_total{inferred=\"false\",outcome=\"encapsulated\"}").value_or(0) >= 3 &&
            value("wgbpf_packets_total{inferred=\"false\",outcome=\"delivered\"}").value_or(0) >= 3 &&
            value("wgbpf_packets_total{inferred=\"false\",outcome=\"sent\"}").value_or(0) >= 3)
            break;
        std::this_thread::sleep_for(250ms);
    }
    INFO("scrape:\n" << scrape);
    CHECK(value("wgbpf_packets_total{inferred=\"false\",outcome=\"encapsulated\"}").value_or(0) >= 3);
    CHECK(value("wgbpf_packets_total{inferred=\"false\",outcome=\"delivered\"}").value_or(0) >= 3);
    CHECK(value("wgbpf_packets_total{inferred=\"false\",outcome=\"sent\"}").value_or(0) >= 3); // the outer packets
    CHECK(value("wgbpf_wireguard_messages_total{action=\"encrypt\",direction=\"out\",interface=\"wg0\"}").value_or(0) >=
          3);
    CHECK(value("wgbpf_events_total{module=\"route\"}").value_or(0) > 0);
    CHECK(value("wgbpf_events_lost_total{module=\"route\"}") == 0.0);
    // Another watch cannot serve the same address: said, exit 1, before anything loads.
    RunResult second = run_status("ip netns exec " + ns + " " + sh_quote(wgbpf_binary()) +
                                  " watch --duration 1 --metrics " + address + " 2>&1");
    CHECK(second.status == 1);
    CHECK(second.output.find("cannot serve metrics on " + address) != std::string::npos);
    watch.interrupt();
    CHECK(watch.wait_for(20s));
    CHECK(watch.exit_status() == 0);
}

TEST_CASE("top: a road-warrior gateway for 8 peers, each its own WireGuard interface (masqueraded out of the uplink): "
          "each peer's requests decrypted from it and forwarded with their source rewritten, the NAT chain on the "
          "connection's first packet and conntrack's translation on the others, the replies rewritten back and "
          "encrypted to the same peer",
          "[e2e][top]") {
    WGBPF_E2E_REQUIRE_ROOT();
    constexpr int kPeers = 8;
    Lab lab(LabKind::seed, LabSpec{.peers = kPeers});
    const std::string wgs = lab.server_wg_iface();
    // Each peer's public key, as the server knows it (`wg show IF peers` lists them; the lab's own client too).
    std::vector<std::string> keys;
    for (int i = 1; i <= kPeers; ++i) {
        RunResult key = lab.exec("peers", "wg show " + sh_quote(lab.peer_iface(i)) + " public-key");
        REQUIRE(key.status == 0);
        keys.push_back(trimmed(key.output));
    }
    WatchOutput out = wgbpf_while(
        "top --netns " + sh_quote(lab.server_ns()) + " --iface " + sh_quote(wgs) + " --interval 1",
        [&] {
            std::string pings;
            for (int i = 1; i <= kPeers; ++i)
                pings += "ping -n -c 3 -i 0.3 -W 2 -I " + Lab::peer_address(i) + " " + kRouterWan + " >/dev/null & ";
            CHECK(lab.exec("peers", pings + "fail=0; for p in $(jobs -p); do wait $p || fail=1; done; exit $fail", 30s)
                      .status == 0);
        },
        10);
    CHECK(out.exit_status == 0);
    std::vector<json> snapshots = out.of_kind("top");
    REQUIRE(!snapshots.empty());
    const json& last = snapshots.back();
    INFO("paths at the end:\n" << path_lines(last));
    CHECK(int_field(last, "lost_events") == 0);

    auto has_chain = [](const json& p, const std::string& chain) {
        return has_hop(p, [&](const json& h) { return str_field(h, "chain") == chain; });
    };
    auto rewritten = [](const json& p, const char* which) {
        return has_hop(
            p, [&](const json& h) { return str_field(h, "kind") == "nat" && str_field(h, "rewritten") == which; });
    };
    auto with_peer = [](const json& p, const char* action, const std::string& key) {
        return has_hop(p,
                       [&](const json& h) { return str_field(h, "action") == action && str_field(h, "peer") == key; });
    };
    for (const json& p : array_field(last, "paths")) {
        // every hop names what ran: an nftables chain, or conntrack's NAT for an established connection
        CHECK_FALSE(has_chain(p, "(not an nftables chain)"));
        // The kernel drops nothing at the gateway. (With kernel WireGuard at both ends, each reply's buffer goes on
        // through the veths and is decrypted in place by its peer, whose ping frees it as NO_SOCKET: not the
        // gateway's drop.) Its own router solicitations (IPv6, no peer: wireguard-go drops them) may be counted.
        // Link-local multicast arriving on the uplink (IPv6 neighbour discovery, MLD) is no packet of the tunnel's:
        // when one is counted (a buffer whose address a watched packet had, freed without a traced free, comes in
        // through a veth: wgbpf cannot tell it from that packet), its drop is the kernel's true verdict on it.
        const bool uplink_multicast = has_hop(p, [](const json& h) {
            return str_field(h, "kind") == "route" && str_field(h, "route_type") == "multicast";
        });
        if (!uplink_multicast) CHECK_FALSE(has_hop(p, [](const json& h) { return str_field(h, "kind") == "drop"; }));
    }
    for (int i = 0; i < kPeers; ++i) {
        INFO("peer " << i + 1 << " " << keys[i]);
        int64_t requests = 0, first = 0, later = 0, replies = 0;
        for (const json& p : array_field(last, "paths")) {
            if (str_field(p, "outcome") == "forwarded" && with_peer(p, "decrypt", keys[i])) {
                CHECK(rewritten(p, "src"));
                CHECK_FALSE(p.value("incomplete", true));
                requests += int_field(p, "packets").value_or(0);
                if (has_chain(p, "ip gateway postrouting")) {
                    first += int_field(p, "packets").value_or(0);
                } else {
                    // The connection's later packets: the netfilter brackets see conntrack's translation between
                    // two hooks; exact chains (fexit nft_do_chain) see no chain run at all.
                    later += int_field(p, "packets").value_or(0);
                    CHECK((has_chain(p, "conntrack NAT") ||
                           !has_hop(p, [](const json& h) { return str_field(h, "kind") == "netfilter"; })));
                }
            }
            if (str_field(p, "outcome") == "encapsulated" && with_peer(p, "encrypt", keys[i])) {
                CHECK(rewritten(p, "dst"));
                replies += int_field(p, "packets").value_or(0);
            }
        }
        CHECK(requests == 3);
        CHECK(first == 1); // one ping, one connection: its NAT chain runs once
        CHECK(later == 2);
        CHECK(replies == 3);
    }
}
