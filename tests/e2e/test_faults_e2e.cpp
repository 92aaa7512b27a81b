// End-to-end: the lab with one fault each (issue 14's list), and `wgbpf diagnose` naming it, with the packet
// timelines showing where packets died. With wireguard-go (here) WireGuard's own drops are inferred; with kernel
// WireGuard (the stock-kernel VMs) they are the kernel's verdicts. Root only.
#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "watch_run.hpp"

using nlohmann::json;
using namespace wgbpf::e2e;

namespace {

std::string public_key(const Lab& lab, const std::string& role, const std::string& iface) {
    return trimmed(lab.exec(role, "wg show " + sh_quote(iface) + " public-key").output);
}

void must(const Lab& lab, const std::string& role, const std::string& cmd) {
    RunResult r = lab.exec(role, cmd);
    INFO(role << ": " << cmd << "\n" << r.output);
    REQUIRE(r.status == 0);
}

struct Diagnosis {
    int exit_status = -1;
    std::string output; // stdout and stderr
    json report;        // the --json object
    std::set<std::string> kinds() const {
        std::set<std::string> out;
        for (const json& f : report.value("findings", json::array())) out.insert(f.value("kind", ""));
        return out;
    }
    const json* finding(const std::string& kind) const {
        for (const json& f : report["findings"])
            if (f.value("kind", "") == kind) return &f;
        return nullptr;
    }
};

// `wgbpf diagnose --json` on one of the lab's namespaces while `during` runs (from its ready line on).
Diagnosis diagnose_while(const std::string& netns, const std::string& iface, const std::function<void()>& during,
                         int duration_s = 5, const std::string& extra = "") {
    const std::string cmd = "exec " + sh_quote(wgbpf_binary()) + " diagnose --netns " + sh_quote(netns) + " --iface " +
                            sh_quote(iface) + " --json --duration " + std::to_string(duration_s) + " " + extra +
                            " 2>&1";
    INFO("command: " << cmd);
    Process p(cmd);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (p.output().find("wgbpf: ready") == std::string::npos && p.running() &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    INFO("output so far: " << p.output());
    REQUIRE(p.output().find("wgbpf: ready") != std::string::npos);
    during();
    bool exited = p.wait_for(std::chrono::seconds(duration_s + 30));
    if (!exited) p.kill();
    Diagnosis d;
    d.output = p.output();
    d.exit_status = p.exit_status().value_or(-1);
    INFO("diagnose output:\n" << d.output);
    REQUIRE(exited);
    size_t at = d.output.find("{\"");
    REQUIRE(at != std::string::npos);
    d.report = json::parse(d.output.substr(at, d.output.find('\n', at) - at));
    return d;
}

void ping(const Lab& lab, int count = 3, const std::string& extra = "") {
    lab.exec("client", "ping -n -c " + std::to_string(count) + " -i 0.3 -W 1 " + extra + " " + kTarget);
}

} // namespace

TEST_CASE("fault: healthy lab: diagnose finds nothing on the client or the server, and exits 0", "[e2e][faults]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    Diagnosis client = diagnose_while(lab.client_ns(), lab.wg_iface(), [&] { ping(lab); });
    INFO(client.output);
    CHECK(client.exit_status == 0);
    CHECK(client.report["findings"].empty());
    CHECK(client.report["packets"].get<int>() > 0);
    REQUIRE(client.report["peers"].size() == 1);
    CHECK(client.report["peers"][0]["data_received"].get<int>() >= 3);
    Diagnosis server = diagnose_while(lab.server_ns(), lab.server_wg_iface(), [&] { ping(lab); });
    INFO(server.output);
    CHECK(server.exit_status == 0);
    CHECK(server.report["findings"].empty());
}

TEST_CASE("fault: the client's source is not in the server's allowed IPs for it: dropped by WireGuard on the server, "
          "named with the peer and its allowed IPs",
          "[e2e][faults]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    const std::string wgs = lab.server_wg_iface();
    const std::string client_key = public_key(lab, "client", lab.wg_iface());
    must(lab, "server", "wg set " + sh_quote(wgs) + " peer " + sh_quote(client_key) + " allowed-ips 10.0.0.99/32");
    Diagnosis d = diagnose_while(lab.server_ns(), wgs, [&] { ping(lab); });
    INFO(d.output);
    CHECK(d.exit_status == 5);
    bool kernel = lab.kernel_wireguard("server", wgs);
    const json* f = d.finding(kernel ? "source_not_allowed" : "dropped_inside_wireguard");
    REQUIRE(f);
    CHECK((*f)["certainty"] == (kernel ? "certain" : "likely"));
    std::string summary = (*f)["summary"];
    if (kernel)
        CHECK(summary.find("source 10.0.0.1 is not in the allowed IPs of peer " + client_key.substr(0, 8)) !=
              std::string::npos);
    else
        CHECK(summary.find("its inner source is not in the allowed IPs of peer " + client_key.substr(0, 8)) !=
              std::string::npos);
    CHECK(summary.find("10.0.0.99") != std::string::npos);
    CHECK((*f)["packets"].get<int>() >= 2);
}

TEST_CASE("fault: overlapping allowed IPs on the server: another peer took the client's address; the client's peer "
          "has none left",
          "[e2e][faults]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    const std::string wgs = lab.server_wg_iface();
    const std::string client_key = public_key(lab, "client", lab.wg_iface());
    std::string other = trimmed(lab.exec("server", "wg genkey | wg pubkey").output);
    REQUIRE(other.size() == 44);
    // The client's peer keeps only its IPv4 address, which the new peer then takes.
    must(lab, "server", "wg set " + sh_quote(wgs) + " peer " + sh_quote(client_key) + " allowed-ips 10.0.0.1/32");
    must(lab, "server", "wg set " + sh_quote(wgs) + " peer " + sh_quote(other) + " allowed-ips 10.0.0.1/32");
    // With kprobes where the kernel has them (the VMs): the other flavour's verdicts.
    Diagnosis d = diagnose_while(
        lab.server_ns(), wgs, [&] { ping(lab); }, 5, "--no-fexit");
    INFO(d.output);
    CHECK(d.exit_status == 5);
    const json* none = d.finding("peer_without_allowed_ips");
    REQUIRE(none);
    CHECK((*none)["subject"] == wgs + " peer " + client_key.substr(0, 8) + "...");
    bool kernel = lab.kernel_wireguard("server", wgs);
    const json* f = d.finding(kernel ? "source_not_allowed" : "dropped_inside_wireguard");
    REQUIRE(f);
    if (kernel) CHECK(std::string((*f)["summary"]).find("it is in peer " + other.substr(0, 8)) != std::string::npos);
    else CHECK(std::string((*f)["summary"]).find("has no allowed IPs") != std::string::npos);
}

TEST_CASE("fault: a wrong public key for the server on the client: the handshake never completes; the server "
          "refuses the initiations",
          "[e2e][faults]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    const std::string wgs = lab.server_wg_iface();
    const std::string server_key = public_key(lab, "server", wgs);
    std::string wrong = trimmed(lab.exec("client", "wg genkey | wg pubkey").output);
    REQUIRE(wrong.size() == 44);
    must(lab, "client",
         "wg set " + sh_quote(lab.wg_iface()) + " peer " + sh_quote(server_key) + " remove && wg set " +
             sh_quote(lab.wg_iface()) + " peer " + sh_quote(wrong) + " endpoint " + kEndpoint +
             ":51820 allowed-ips 0.0.0.0/0");
    // The client's side: initiations go out, nothing comes back.
    Diagnosis client = diagnose_while(lab.client_ns(), lab.wg_iface(), [&] { ping(lab, 2); });
    INFO(client.output);
    CHECK(client.exit_status == 5);
    const json* incomplete = client.finding("handshake_incomplete");
    REQUIRE(incomplete);
    CHECK(std::string((*incomplete)["evidence"][0]).find("left on") != std::string::npos);
    // The server's side: the cause. The peer set again first: its handshake timers start over, so the ping makes
    // an initiation at once (WireGuard sends at most one per 5 s).
    must(lab, "client",
         "wg set " + sh_quote(lab.wg_iface()) + " peer " + sh_quote(wrong) + " remove && wg set " +
             sh_quote(lab.wg_iface()) + " peer " + sh_quote(wrong) + " endpoint " + kEndpoint +
             ":51820 allowed-ips 0.0.0.0/0");
    Diagnosis server = diagnose_while(lab.server_ns(), wgs, [&] { ping(lab, 2); });
    INFO(server.output);
    CHECK(server.exit_status == 5);
    bool kernel = lab.kernel_wireguard("server", wgs);
    const json* f = server.finding(kernel ? "handshake_bad_mac" : "handshake_rejected");
    REQUIRE(f);
    CHECK((*f)["certainty"] == (kernel ? "certain" : "likely"));
    CHECK(std::string((*f)["change"]).find("public key") != std::string::npos);
}

TEST_CASE("fault: the server's firewall drops WireGuard's port: the chain is named", "[e2e][faults][host]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    const std::string wgs = lab.server_wg_iface();
    must(lab, "server",
         "nft -f - <<'EOF'\n"
         "table inet fault {\n"
         "  chain input {\n"
         "    type filter hook input priority 0; policy accept;\n"
         "    udp dport 51820 drop\n"
         "  }\n"
         "}\n"
         "EOF");
    Diagnosis d = diagnose_while(lab.server_ns(), wgs, [&] { ping(lab, 2); });
    INFO(d.output);
    CHECK(d.exit_status == 5);
    const json* f = d.finding("outer_dropped_by_firewall");
    REQUIRE(f);
    CHECK(std::string((*f)["summary"]).find("dropped by chain inet fault input") != std::string::npos);
}

TEST_CASE("fault: src_valid_mark=0 with strict rp_filter on the client: the configuration says it, the replies "
          "show it",
          "[e2e][faults][host]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    must(lab, "client", "sysctl -qw net.ipv4.conf.all.src_valid_mark=0");
    Diagnosis d = diagnose_while(lab.client_ns(), lab.wg_iface(), [&] { ping(lab, 2); });
    INFO(d.output);
    CHECK(d.exit_status == 5);
    REQUIRE(d.finding("rp_filter_drops_replies"));
    CHECK(std::string((*d.finding("rp_filter_drops_replies"))["change"]).find("src_valid_mark=1") != std::string::npos);
    REQUIRE(d.finding("rp_filter_failed"));
}

TEST_CASE("fault: a WireGuard MTU larger than the path allows: the MTU chain, and full-size outer packets too big "
          "for the LAN device",
          "[e2e][faults]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    must(lab, "client", "ip link set dev " + sh_quote(lab.wg_iface()) + " mtu 1500");
    Diagnosis d = diagnose_while(lab.client_ns(), lab.wg_iface(), [&] { ping(lab, 2, "-s 1472"); });
    INFO(d.output);
    CHECK(d.exit_status == 5);
    const json* f = d.finding("mtu_exceeds_path");
    REQUIRE(f);
    CHECK(std::string((*f)["summary"]).find("MTU 1500 + 60 bytes of outer headers = 1560 > c0's MTU 1500") !=
          std::string::npos);
    CHECK((*f)["change"] == "ip link set dev " + lab.wg_iface() + " mtu 1440");
    const json* big = d.finding("outer_too_big");
    REQUIRE(big);
    CHECK(std::string((*big)["summary"]).find("1560 bytes") != std::string::npos);
    // The timelines show it as it happened: the outer packet fragmented to leave c0 (its first fragment in its own
    // buffer, or all in new ones), the new buffers named as its fragments; the server's reply, fragmented to fit
    // its tunnel, reassembled here.
    WatchOutput out = watch_while(
        lab, [&] { ping(lab, 1, "-s 1472"); }, 3);
    INFO(out.stdout_text);
    bool fragmented = false, made = false, reassembled = false;
    for (const json& t : out.of_kind("timeline")) {
        for (const json& n : array_field(t, "notes")) {
            std::string note = n.get<std::string>();
            fragmented = fragmented || note.starts_with("fragmented to leave c0 (MTU 1500): its 1560 bytes went out");
            made = made || note.starts_with("a fragment the kernel made of #");
        }
        if (str_field(t, "outcome").value_or("") == "reassembled") {
            reassembled = true;
            CHECK(int_field(t, "reassembled_into").has_value());
        }
    }
    CHECK(fragmented);
    CHECK(made);
    CHECK(reassembled);
}

TEST_CASE("fault: the endpoint route goes into the tunnel (no fwmark): a loop, with the rule and table",
          "[e2e][faults][host]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    must(lab, "client", "wg set " + sh_quote(lab.wg_iface()) + " fwmark 0");
    bool kernel = lab.kernel_wireguard("client", lab.wg_iface());
    Diagnosis d = diagnose_while(
        lab.client_ns(), lab.wg_iface(), [&] { ping(lab, 1); }, 3);
    INFO(d.output);
    CHECK(d.exit_status == 5);
    const json* f = d.finding("endpoint_route_loop");
    REQUIRE(f);
    CHECK(std::string((*f)["evidence"][0]).find("rule 32765 (not from all fwmark 0xca6c lookup 51820), table 51820") !=
          std::string::npos);
    // wireguard-go sends its outer packets into its own interface: seen, on the same finding.
    if (!kernel) {
        bool seen = false;
        for (const json& e : (*f)["evidence"]) seen |= std::string(e).starts_with("seen: ");
        CHECK(seen);
    }
}

TEST_CASE("fault: healthy: a WireGuard interface moved into another namespace (its socket stays behind): no findings, "
          "and the endpoint route of the interface's namespace is not taken for its path",
          "[e2e][faults]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    const std::string moved = lab.name() + "-moved";
    const std::string wgs = lab.server_wg_iface();
    const bool kernel = lab.kernel_wireguard("client", lab.wg_iface());
    const std::string wgm = lab.wg_iface() + "m";
    struct Cleanup {
        std::string ns, iface;
        ~Cleanup() {
            run_status("ip netns del " + sh_quote(ns) + " 2>/dev/null; pkill -f " + sh_quote("wireguard-go " + iface) +
                       " 2>/dev/null; true");
        }
    } cleanup{moved, wgm};
    REQUIRE(run_status("ip netns add " + sh_quote(moved)).status == 0);
    // Made in the client's namespace (its birthplace: the socket stays there), with the server as peer.
    const std::string key = trimmed(lab.exec("client", "wg genkey").output);
    const std::string pub = trimmed(run("echo " + sh_quote(key) + " | wg pubkey"));
    const std::string server_key = public_key(lab, "server", wgs);
    must(lab, "client",
         kernel ? "ip link add " + sh_quote(wgm) + " type wireguard"
                : "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 wireguard-go " + sh_quote(wgm));
    must(lab, "client",
         "echo " + sh_quote(key) + " > /run/wgbpf-moved.key && wg set " + sh_quote(wgm) +
             " private-key /run/wgbpf-moved.key listen-port 51821 fwmark 51820 peer " + sh_quote(server_key) +
             " endpoint " + kEndpoint +
             ":51820 allowed-ips 0.0.0.0/0; rc=$?; "
             "rm -f /run/wgbpf-moved.key; exit $rc");
    must(lab, "server", "wg set " + sh_quote(wgs) + " peer " + sh_quote(pub) + " allowed-ips 10.0.0.2/32");
    must(lab, "client", "ip link set " + sh_quote(wgm) + " netns " + sh_quote(moved));
    auto in_moved = [&](const std::string& cmd) {
        RunResult r = run_status("ip netns exec " + sh_quote(moved) + " sh -c " + sh_quote(cmd));
        INFO(cmd << "\n" << r.output);
        REQUIRE(r.status == 0);
    };
    in_moved("ip link set lo up && ip addr add 10.0.0.2/24 dev " + wgm + " && ip link set " + wgm +
             " up && ip route add default dev " + wgm);
    in_moved(std::string("ping -n -c 1 -W 3 ") + kTarget); // works: the outer packets go through the client's LAN
    Diagnosis d = diagnose_while(
        moved, wgm, [&] { run_status("ip netns exec " + sh_quote(moved) + " ping -n -c 3 -i 0.3 -W 1 " + kTarget); });
    INFO(d.output);
    CHECK(d.exit_status == 0);
    CHECK(d.report["findings"].empty());
    bool said = false;
    for (const json& l : d.report["limits"])
        said |= std::string(l).find("its socket is in another namespace") != std::string::npos;
    CHECK(said);
}

TEST_CASE("fault: the server forgot its sessions (peer removed and added again): the client's data for the old "
          "session is refused, by receiver index (kernel WireGuard)",
          "[e2e][faults]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    const std::string wgs = lab.server_wg_iface();
    const std::string client_key = public_key(lab, "client", lab.wg_iface());
    const std::string allowed = trimmed(lab.exec("server", "wg show " + sh_quote(wgs) + " allowed-ips | grep -F " +
                                                               sh_quote(client_key) + " | cut -f2 | tr ' ' ','")
                                            .output);
    REQUIRE(!allowed.empty());
    must(lab, "server",
         "wg set " + sh_quote(wgs) + " peer " + sh_quote(client_key) + " remove && wg set " + sh_quote(wgs) + " peer " +
             sh_quote(client_key) + " allowed-ips " + sh_quote(allowed));
    Diagnosis d = diagnose_while(lab.server_ns(), wgs, [&] { ping(lab, 2); });
    INFO(d.output);
    if (!lab.kernel_wireguard("server", wgs)) {
        // wireguard-go says nothing of why; what came after the new handshake shows the path works again.
        CHECK((d.exit_status == 0 || d.exit_status == 5));
        return;
    }
    const json* f = d.finding("unknown_session");
    REQUIRE(f);
    CHECK(std::string((*f)["summary"]).find("has receiver index 0x") != std::string::npos);
}

TEST_CASE("fault: a gateway forwarding its peers' packets to the uplink without NAT: likely, with the masquerade "
          "to add",
          "[e2e][faults][host]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    const std::string wgs = lab.server_wg_iface();
    const char* uplink_peer = "203.0.113.1"; // the router: it has no route back to the tunnel's 10.0.0.0/24
    Diagnosis d = diagnose_while(lab.server_ns(), wgs,
                                 [&] { lab.exec("client", std::string("ping -n -c 2 -i 0.3 -W 1 ") + uplink_peer); });
    INFO(d.output);
    CHECK(d.exit_status == 5);
    const json* f = d.finding("no_nat_to_uplink");
    REQUIRE(f);
    CHECK((*f)["certainty"] == "likely");
    CHECK(std::string((*f)["summary"]).find("10.0.0.1 -> 203.0.113.1") != std::string::npos);
    CHECK(std::string((*f)["change"]).find("masquerade") != std::string::npos);
    // With the masquerade, the replies come back: nothing to say.
    must(lab, "server", kMasqueradePeers);
    Diagnosis fixed = diagnose_while(lab.server_ns(), wgs, [&] {
        RunResult ping = lab.exec("client", std::string("ping -n -c 2 -i 0.3 -W 1 ") + uplink_peer);
        CHECK(ping.status == 0);
    });
    INFO(fixed.output);
    CHECK_FALSE(fixed.finding("no_nat_to_uplink"));
}

namespace {

// The UDP payload of the first packet in a pcap file (Ethernet, IPv4 without options), as tcpdump -w writes it.
// The UDP payloads of a pcap file tcpdump wrote from an Ethernet device (IPv4 without options), in order.
std::vector<std::string> udp_payloads(const std::string& pcap) {
    std::ifstream in(pcap, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    constexpr size_t kFileHeader = 24, kRecordHeader = 16, kEthernet = 14, kIp = 20, kUdp = 8;
    std::vector<std::string> out;
    size_t at = kFileHeader;
    while (bytes.size() >= at + kRecordHeader) {
        uint32_t captured = 0;
        std::memcpy(&captured, bytes.data() + at + 8, 4); // incl_len, host order (tcpdump writes native)
        const size_t frame = at + kRecordHeader;
        if (captured < kEthernet + kIp + kUdp || bytes.size() < frame + captured) break;
        out.push_back(bytes.substr(frame + kEthernet + kIp + kUdp, captured - kEthernet - kIp - kUdp));
        at = frame + captured;
    }
    return out;
}

std::string first_udp_payload(const std::string& pcap) {
    auto all = udp_payloads(pcap);
    return all.empty() ? std::string() : all.front();
}

// Sends each payload as one UDP datagram from the lab namespace `netns` (a thread of its own enters it), back to
// back from one socket.
bool send_udp_from(const std::string& netns, const char* to, uint16_t port, const std::vector<std::string>& payloads) {
    bool sent = false;
    std::thread([&] {
        int ns = ::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
        if (ns < 0) return;
        bool entered = ::setns(ns, CLONE_NEWNET) == 0;
        ::close(ns);
        int fd = entered ? ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0) : -1;
        if (fd < 0) return;
        sockaddr_in dst{};
        dst.sin_family = AF_INET;
        dst.sin_port = htons(port);
        ::inet_pton(AF_INET, to, &dst.sin_addr);
        sent = true;
        for (const std::string& payload : payloads)
            sent = sent && ::sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&dst),
                                    sizeof dst) == ssize_t(payload.size());
        ::close(fd);
    }).join();
    return sent;
}

bool send_udp_from(const std::string& netns, const char* to, uint16_t port, const std::string& payload) {
    return send_udp_from(netns, to, port, std::vector<std::string>{payload});
}

} // namespace

TEST_CASE("fault: a data message altered on the way does not decrypt, one sent again is replayed: dropped by "
          "WireGuard, said",
          "[e2e][faults]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    const std::string wgs = lab.server_wg_iface();
    ScratchDir dir;
    // One real data message from the client (a ping), as it arrived at the server.
    if (run_status("command -v tcpdump").status != 0) SKIP("no tcpdump to capture a data message with");
    // -Z root: tcpdump would drop to a user "tcpdump" (not there in the VMs, and not allowed into the scratch dir).
    Process capture("exec ip netns exec " + sh_quote(lab.server_ns()) + " tcpdump -Z root -i s0 -c 1 -U -w " +
                    sh_quote(dir.file("data.pcap")) +
                    " 'udp dst port 51820 and udp[8] = 4 and greater 120' 2>/dev/null");
    // Pings until tcpdump has its packet (it says nothing when it is attached: one ping may come too early).
    for (int i = 0; i < 30 && !capture.wait_for(std::chrono::milliseconds(500)); ++i) ping(lab, 1);
    REQUIRE(capture.wait_for(std::chrono::seconds(5)));
    const std::string message = first_udp_payload(dir.file("data.pcap"));
    REQUIRE(message.size() > 32);
    REQUIRE(message[0] == 4); // transport data
    std::string altered = message;
    altered.back() ^= 0x5a; // in the authentication tag: it cannot decrypt
    // Sent from the router: from the client they would go into the tunnel (wg-quick routes everything there).
    auto send = [&](const std::string& bytes) {
        CHECK(send_udp_from(lab.router_ns(), kEndpoint, 51820, bytes));
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
    };
    auto diagnose = [&](const std::string& extra) {
        return diagnose_while(
            lab.server_ns(), wgs,
            [&] {
                send(altered);
                send(message); // the very message WireGuard received already: its counter is replayed
            },
            5, extra);
    };
    if (lab.kernel_wireguard("server", wgs)) {
        for (const char* flavour : {"", "--no-fexit"}) { // fexit decrypt_packet; kprobe wireguard:decrypt_packet
            INFO("flavour: " << (*flavour ? flavour : "fexit"));
            Diagnosis d = diagnose(flavour);
            INFO(d.output);
            CHECK(d.exit_status == 5);
            const json* invalid = d.finding("data_not_authentic"); // exact: decrypt_packet refused it
            REQUIRE(invalid);
            CHECK((*invalid)["certainty"] == "certain");
            const json* replayed =
                d.finding("data_not_delivered"); // decrypted, then nothing reached the allowed-IPs check
            REQUIRE(replayed);
            CHECK((*replayed)["certainty"] == "likely");
        }
    } else {
        Diagnosis d = diagnose("");
        INFO(d.output);
        CHECK(d.exit_status == 5);
        // wireguard-go drops both in user space: inferred, and said to be.
        int64_t packets = 0; // (one finding per sender: each send came from another port)
        for (const json& f : d.report["findings"])
            if (f.value("kind", "") == "dropped_inside_wireguard") {
                CHECK(f["certainty"] == "likely");
                packets += f.value("packets", int64_t(0));
            }
        CHECK(packets == 2);
    }
}

namespace {

// The WireGuard steps of every timeline a watch printed.
std::vector<json> wireguard_steps(const WatchOutput& out) {
    std::vector<json> steps;
    for (const json& t : out.of_kind("timeline"))
        for (const json& s : steps_of(t, "wireguard")) steps.push_back(s);
    return steps;
}

bool any_gap(const WatchOutput& out, const std::string& text) {
    for (const json& t : out.of_kind("timeline"))
        for (const json& g : array_field(t, "gaps"))
            if (g.is_string() && g.get<std::string>().find(text) != std::string::npos) return true;
    return false;
}

} // namespace

TEST_CASE("fault: a peer that never answers: the client's packets wait in WireGuard's queue for a handshake, and go "
          "with the queue when the peer is removed or the interface brought down",
          "[e2e][faults]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    const std::string wg = lab.wg_iface();
    const std::string wgs = lab.server_wg_iface();
    const std::string server_key = public_key(lab, "server", wgs);
    // The server forgets the client (it would otherwise start a handshake itself, and the client would roam to it);
    // the client's peer is set again (no session, fresh timers) at a port nothing listens on.
    must(lab, "server", "wg set " + sh_quote(wgs) + " peer " + sh_quote(public_key(lab, "client", wg)) + " remove");
    const std::string set_peer = "wg set " + sh_quote(wg) + " peer " + sh_quote(server_key) + " endpoint " + kEndpoint +
                                 ":51999 allowed-ips 0.0.0.0/0";
    must(lab, "client", "wg set " + sh_quote(wg) + " peer " + sh_quote(server_key) + " remove && " + set_peer);
    // Pings wait in the queue; then `then` drops it: the peer removed, or the interface brought down.
    auto queued_then = [&](const std::string& then) {
        return watch_while(
            lab,
            [&] {
                lab.exec("client", "ping -n -c 2 -i 0.2 -W 1 " + std::string(kTarget) + " >/dev/null & sleep 0.8; " +
                                       then + "; wait");
            },
            4);
    };
    WatchOutput removed = queued_then("wg set " + sh_quote(wg) + " peer " + sh_quote(server_key) + " remove");
    must(lab, "client", set_peer);
    WatchOutput down = queued_then("ip link set " + sh_quote(wg) + " down");
    INFO("peer removed:\n" << removed.stdout_text << "\ninterface down:\n" << down.stdout_text);
    if (!lab.kernel_wireguard("client", wg)) {
        // wireguard-go queues in user space too, unseen: the packets are never called sent, nor dropped by WireGuard.
        for (const WatchOutput* out : {&removed, &down}) {
            for (const json& w : wireguard_steps(*out)) {
                CHECK(str_field(w, "verdict").value_or("") != "device_down");
                CHECK(str_field(w, "verdict").value_or("") != "peer_removed");
            }
            CHECK(any_gap(*out, "no outer packet was linked to it"));
        }
        return;
    }
    // Exact: the kernel had no session with the peer when it took them, and dropped them with the queue.
    // Each ping is shown dropped with the queue, once; none is left for a record of the rest.
    auto purged = [&](const WatchOutput& out, const std::string& verdict, const std::string& why) {
        CHECK(any_gap(out, "had no session with peer"));
        int pings = 0;
        for (const json& t : out.of_kind("timeline")) {
            CHECK_FALSE(t["packet_id"].is_null());
            if (int_field(t, "icmp_type") != 8) continue;
            for (const json& w : steps_of(t, "wireguard"))
                if (str_field(w, "verdict").value_or("") == verdict) {
                    ++pings;
                    CHECK(str_field(w, "dropped").value_or("").find(why) != std::string::npos);
                }
        }
        CHECK(pings == 2);
    };
    purged(removed, "peer_removed", "was removed (or " + wg + " deleted): the ");
    purged(down, "device_down", wg + " went down: the ");
}

TEST_CASE("fault: handshake initiations sent again: one within 20 ms of the last accepted is a flood, an old one is "
          "refused for its timestamp (kernel WireGuard, exact)",
          "[e2e][faults]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    const std::string wg = lab.wg_iface();
    const std::string wgs = lab.server_wg_iface();
    const std::string server_key = public_key(lab, "server", wgs);
    if (run_status("command -v tcpdump").status != 0) SKIP("no tcpdump to capture initiations with");
    ScratchDir dir;
    // The router drops what the client sends to the server's port (the lab's router, never the host's): its
    // initiations are captured on the way in (tcpdump sees them before the forward hook) and never arrive.
    must(lab, "router",
         "nft add table inet wgbpf_e2e_hold && nft add chain inet wgbpf_e2e_hold hold '{ type filter hook "
         "forward priority 0; }' && nft add rule inet wgbpf_e2e_hold hold udp dport 51820 drop");
    Process capture("exec ip netns exec " + sh_quote(lab.router_ns()) + " tcpdump -Z root -i r0 -c 2 -U -w " +
                    sh_quote(dir.file("init.pcap")) + " 'udp dst port 51820 and udp[8] = 1' 2>/dev/null");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    // The peer set again: a ping makes an initiation at once, and WireGuard retries after 5 s.
    must(lab, "client",
         "wg set " + sh_quote(wg) + " peer " + sh_quote(server_key) + " remove && wg set " + sh_quote(wg) + " peer " +
             sh_quote(server_key) + " endpoint " + kEndpoint + ":51820 allowed-ips 0.0.0.0/0");
    for (int i = 0; i < 12 && !capture.wait_for(std::chrono::milliseconds(100)); ++i) ping(lab, 1);
    REQUIRE(capture.wait_for(std::chrono::seconds(10)));
    std::vector<std::string> inits = udp_payloads(dir.file("init.pcap"));
    REQUIRE(inits.size() == 2);
    REQUIRE(inits[0].size() == 148);
    REQUIRE(inits[1].size() == 148);
    // The first (older timestamp) is accepted; the second, at once, is a flood; the first again, later, is old.
    WatchOutput out = watch_while(
        lab.server_ns(), wgs,
        [&] {
            CHECK(send_udp_from(lab.router_ns(), kEndpoint, 51820, std::vector<std::string>{inits[0], inits[1]}));
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            CHECK(send_udp_from(lab.router_ns(), kEndpoint, 51820, inits[0]));
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
        },
        3);
    INFO(out.stdout_text);
    std::set<std::string> verdicts;
    for (const json& w : wireguard_steps(out))
        if (str_field(w, "action").value_or("") == "handshake_initiation")
            verdicts.insert(str_field(w, "verdict").value_or(""));
    if (!lab.kernel_wireguard("server", wgs)) {
        // wireguard-go refuses them in user space, unseen: no kernel verdict is claimed.
        CHECK_FALSE(verdicts.contains("flood"));
        CHECK_FALSE(verdicts.contains("timestamp_refused"));
        return;
    }
    CHECK(verdicts.contains("accepted"));
    CHECK(verdicts.contains("timestamp_refused"));
    // WireGuard calls the second a flood when its check comes within 20 ms of the first's acceptance (its coarse
    // clock). Between the two lie three curve25519 operations (the response to the first, the second's own): fast
    // hardware does them in well under a millisecond, emulation (the stock-kernel VMs beside a loaded host) can take
    // longer than 20 ms, and the second, newer, is then accepted. Both are WireGuard's own verdicts; wgbpf's step
    // times are the packets' arrivals, not the checks', so the test cannot tell which to expect, only that it is
    // one of the two.
    std::vector<std::pair<int64_t, std::string>> judged; // (arrival, verdict) of each initiation the server judged
    for (const json& w : wireguard_steps(out))
        if (str_field(w, "action").value_or("") == "handshake_initiation" &&
            str_field(w, "direction").value_or("") == "in" && !str_field(w, "verdict").value_or("").empty())
            judged.emplace_back(int_field(w, "t_ns").value_or(0), str_field(w, "verdict").value_or(""));
    std::sort(judged.begin(), judged.end());
    REQUIRE(judged.size() == 3);
    CHECK(judged[0].second == "accepted");
    // When its check came too near the 20 ms limit for wgbpf to tell a flood from an old timestamp, the step says
    // "rejected" and that it cannot tell which (seen once in the 6.1 VM under CI load): true as well.
    CHECK((judged[1].second == "flood" || judged[1].second == "accepted" || judged[1].second == "rejected"));
    CHECK(judged[2].second == "timestamp_refused");
    if (judged[1].second != "flood")
        WARN("no flood shown ("
             << judged[1].second
             << "): WireGuard checked the second initiation about 20 ms or more after accepting the first");
}

TEST_CASE("fault: a hop whose MTU is smaller than packets sent with DF: the router drops them as too big, with the "
          "numbers, and its ICMP fragmentation-needed shows the MTU",
          "[e2e][faults][host]") {
    // [host]: the forwarding path's drop reason and ICMP are the same on the stock kernels (checked there once, on
    // 6.1 and 6.12): the VM suite's time goes to what differs.
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    must(lab, "router", "ip link set dev r1 mtu 1300");
    // Marked with WireGuard's fwmark, the ping takes the main table (not the tunnel): to the server over the router.
    WatchOutput out = watch_while(
        lab.router_ns(), "r0",
        [&] {
            lab.exec("client", "ping -n -c 1 -W 1 -m 51820 -M do -s 1400 " + std::string(kEndpoint) + " >/dev/null");
        },
        3);
    INFO(out.stdout_text);
    bool dropped = false, icmp = false;
    for (const json& t : out.of_kind("timeline")) {
        for (const json& d : steps_of(t, "drop"))
            if (str_field(d, "reason").value_or("") == "PKT_TOO_BIG") {
                dropped = true;
                CHECK(str_field(d, "explanation").value_or("") ==
                      "1428 bytes, larger than the MTU of r1 (1300), or of its route, with DF set: the kernel sent "
                      "192.168.178.48 ICMP fragmentation needed with that MTU");
            }
        if (int_field(t, "icmp_type") == 3 && int_field(t, "icmp_code") == 4) {
            icmp = true;
            CHECK(int_field(t, "icmp_mtu") == 1300);
            CHECK(str_field(t, "dst").value_or("") == "192.168.178.48");
        }
    }
    CHECK(dropped);
    CHECK(icmp);
}
