// End-to-end: packet timelines on the seed topology, the seed's figures 2 and 3. Root only.
#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <sstream>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "watch_run.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using namespace wgbpf::e2e;

namespace {

// The server's key as the client knows its peer (wireguard-go's sockets are shared by all namespaces,
// so `wg show all` in the server namespace would list the client's interface too).
std::string server_public_key(const Lab& lab) {
    RunResult r = lab.exec("client", "wg show " + sh_quote(lab.wg_iface()) + " peers");
    std::string key = r.output;
    while (!key.empty() && (key.back() == '\n' || key.back() == ' ')) key.pop_back();
    return key;
}

// The flavour a probe module ran with, from the ready line ("" when it did not run).
std::string running_flavour(const WatchOutput& out, const std::string& module) {
    for (const json& ready : out.of_kind("ready"))
        for (const json& m : array_field(ready, "modules"))
            if (str_field(m, "name") == module && m.value("running", false))
                return str_field(m, "flavour").value_or("");
    return "";
}

// The client's echo request to the target, into the tunnel.
const json* echo_request(const std::vector<json>& ts) {
    return find_timeline(ts, [](const json& t) {
        return str_field(t, "src") == kClientTunnel && str_field(t, "dst") == kTarget && int_field(t, "icmp_type") == 8;
    });
}

} // namespace

TEST_CASE("timeline: one ping, every step of the seed's figures 2 and 3, inner and outer linked",
          "[e2e][timeline][seed]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    const std::string wg = lab.wg_iface();
    const std::string peer = server_public_key(lab);
    REQUIRE_FALSE(peer.empty());
    WatchOutput out = watch_while(lab, [&] {
        lab.exec("client", "conntrack -F 2>/dev/null || true");
        CHECK(lab.exec("client", std::string("ping -n -c 1 ") + kTarget, 20s).status == 0);
    });
    CHECK(out.exit_status == 0);
    std::vector<json> ts = out.of_kind("timeline");
    INFO(ts.size() << " timelines:\n" << describe(ts));
    REQUIRE_FALSE(ts.empty());

    // Figure 2: the echo request (steps 0-4), into the tunnel.
    const json* inner = echo_request(ts);
    REQUIRE(inner);
    CHECK(str_field(*inner, "outcome") == "encapsulated");
    CHECK(has_step(*inner, "route", [&](const json& s) {
        return str_field(s, "direction") == "output" && int_field(s, "rule") == 32765 && str_field(s, "oif") == wg;
    }));
    CHECK(has_step(*inner, "netfilter", [](const json& s) {
        return str_field(s, "hook") == "output" && str_field(s, "verdict") == "accept";
    }));
    CHECK(has_step(*inner, "netfilter", [](const json& s) { return str_field(s, "chain") == "postmangle"; }));
    CHECK(has_step(*inner, "device",
                   [&](const json& s) { return str_field(s, "direction") == "egress" && str_field(s, "dev") == wg; }));
    CHECK(has_step(*inner, "wireguard", [&](const json& s) {
        return str_field(s, "action") == "encrypt" && str_field(s, "peer") == peer &&
               str_field(s, "endpoint") == std::string(kEndpoint) + ":51820";
    }));

    // Kernel WireGuard encrypts the skb in place: linked by packet id, and its probe names the peer the
    // kernel chose. wireguard-go makes a new packet: linked by peer, order and length.
    bool kernel_wg = lab.kernel_wireguard();
    INFO("WireGuard implementation: " << (kernel_wg ? "kernel" : "user space"));
    CHECK(has_step(*inner, "wireguard", [&](const json& s) {
        return str_field(s, "linked_by") == (kernel_wg ? "skb" : "peer_order_length");
    }));
    if (kernel_wg) CHECK_FALSE(running_flavour(out, "wireguard").empty());

    // Steps 5-7: the encrypted outer packet, linked both ways.
    REQUIRE(inner->contains("encapsulated_in"));
    const json* outer = by_id(ts, (*inner)["encapsulated_in"]);
    REQUIRE(outer);
    CHECK((*outer)["outer_of"] == (*inner)["id"]);
    CHECK(str_field(*outer, "src") == kClientLan);
    CHECK(str_field(*outer, "dst") == kEndpoint);
    CHECK(int_field(*outer, "mark") == 51820);
    // Kernel WireGuard keeps the route to its peer cached: a lookup happens only when the cache is empty,
    // and the timeline says so instead of inventing one.
    bool route_cached = false;
    for (const json& g : array_field(*outer, "gaps"))
        route_cached |= g.get<std::string>().find("cached") != std::string::npos;
    CHECK((route_cached || has_step(*outer, "route", [](const json& s) {
               return int_field(s, "rule") == 32766 && str_field(s, "oif") == "c0";
           })));
    CHECK(has_step(*outer, "netfilter", [](const json& s) {
        return str_field(s, "chain") == "postmangle" && int_field(s, "ct_mark_after") == 51820;
    }));
    CHECK(has_step(*outer, "device",
                   [](const json& s) { return str_field(s, "direction") == "egress" && str_field(s, "dev") == "c0"; }));

    // Figure 3, steps 1-4: the encrypted reply, mark restored, rp_filter passes with the mark, delivered.
    const json* outer_reply = find_timeline(ts, [&](const json& t) {
        return str_field(t, "src") == kEndpoint && str_field(t, "dst") == kClientLan &&
               has_step(t, "wireguard", [](const json& s) { return str_field(s, "action") == "decrypt"; });
    });
    REQUIRE(outer_reply);
    CHECK(has_step(*outer_reply, "netfilter", [](const json& s) {
        return str_field(s, "chain") == "premangle" && int_field(s, "mark_after") == 51820;
    }));
    CHECK(has_step(*outer_reply, "rp_filter", [](const json& s) {
        return str_field(s, "mode") == "strict" && str_field(s, "result") == "pass" &&
               str_field(s, "reverse_oif") == "c0" && s.value("src_valid_mark", false);
    }));
    CHECK(str_field(*outer_reply, "outcome") == "decapsulated"); // delivered to WireGuard, which decrypted it

    // Steps 5-9: the decrypted echo reply, linked to its outer packet, through preraw, delivered.
    const json* inner_reply = find_timeline(ts, [&](const json& t) {
        return str_field(t, "src") == kTarget && str_field(t, "dst") == kClientTunnel && int_field(t, "icmp_type") == 0;
    });
    REQUIRE(inner_reply);
    REQUIRE(inner_reply->contains("decapsulated_from"));
    CHECK((*inner_reply)["decapsulated_from"] == (*outer_reply)["id"]);
    CHECK(has_step(*inner_reply, "device",
                   [&](const json& s) { return str_field(s, "direction") == "ingress" && str_field(s, "dev") == wg; }));
    CHECK(has_step(*inner_reply, "netfilter", [](const json& s) {
        return str_field(s, "chain") == "preraw" && str_field(s, "verdict") == "accept";
    }));
    CHECK(has_step(*inner_reply, "rp_filter", [](const json& s) { return str_field(s, "result") == "pass"; }));
    CHECK(has_step(*inner_reply, "netfilter", [](const json& s) {
        return str_field(s, "hook") == "input" && str_field(s, "verdict") == "accept";
    }));
    CHECK(str_field(*inner_reply, "outcome") == "delivered"); // to ping's raw socket
}

TEST_CASE("timeline: with --no-fexit, kprobes link kernel WireGuard's packets just as well", "[e2e][timeline]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    const std::string peer = server_public_key(lab);
    WatchOutput out = watch_while(
        lab, [&] { CHECK(lab.exec("client", std::string("ping -n -c 1 ") + kTarget, 20s).status == 0); }, 8,
        "--no-fexit");
    CHECK(out.exit_status == 0);
    std::vector<json> ts = out.of_kind("timeline");
    INFO(ts.size() << " timelines:\n" << describe(ts));
    const json* inner = echo_request(ts);
    REQUIRE(inner);
    CHECK(inner->contains("encapsulated_in"));
    bool kernel_wg = lab.kernel_wireguard();
    CHECK(has_step(*inner, "wireguard", [&](const json& s) {
        return str_field(s, "peer") == peer && str_field(s, "linked_by") == (kernel_wg ? "skb" : "peer_order_length");
    }));
    const std::string wireguard_flavour = running_flavour(out, "wireguard");
    INFO("wireguard module flavour: " << wireguard_flavour);
    if (kernel_wg) CHECK(wireguard_flavour.find("kprobe") != std::string::npos);
    for (const json& ready : out.of_kind("ready"))
        for (const json& m : array_field(ready, "modules"))
            CHECK(str_field(m, "flavour").value_or("").find("fexit") == std::string::npos);
}

TEST_CASE("timeline: without src_valid_mark, strict rp_filter drops the reply, and says why", "[e2e][timeline]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    REQUIRE(lab.exec("client", "sysctl -qw net.ipv4.conf.all.src_valid_mark=0").status == 0);
    WatchOutput out = watch_while(
        lab, [&] { CHECK(lab.exec("client", std::string("ping -n -c 1 -W 1 ") + kTarget, 20s).status != 0); });
    std::vector<json> ts = out.of_kind("timeline");
    INFO(describe(ts));
    const json* reply = find_timeline(ts, [&](const json& t) {
        return str_field(t, "src") == kEndpoint && str_field(t, "dst") == kClientLan &&
               has_step(t, "rp_filter", [](const json&) { return true; });
    });
    REQUIRE(reply);
    CHECK(has_step(*reply, "rp_filter", [&](const json& s) {
        return str_field(s, "mode") == "strict" && str_field(s, "result") == "fail" && str_field(s, "iif") == "c0" &&
               str_field(s, "reverse_oif") == lab.wg_iface() && !s.value("src_valid_mark", true);
    }));
    CHECK(has_step(*reply, "drop", [](const json& s) { return str_field(s, "reason") == "IP_RPFILTER"; }));
    CHECK(str_field(*reply, "outcome") == "dropped");
}

TEST_CASE("timeline: a recording replays to the same JSON, without root", "[e2e][timeline]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    ScratchDir scratch;
    const std::string file = scratch.file("timeline.wgbpf");
    WatchOutput live = watch_while(
        lab, [&] { CHECK(lab.exec("client", std::string("ping -n -c 2 ") + kTarget, 20s).status == 0); }, 6,
        "-w " + sh_quote(file));
    REQUIRE(std::filesystem::exists(file));
    ::chmod(file.c_str(), 0644);
    RunResult replay = run_status("setpriv --reuid=nobody --regid=nogroup --clear-groups " + sh_quote(wgbpf_binary()) +
                                  " replay --json " + sh_quote(file));
    std::filesystem::remove(file);
    INFO("replay:\n" << replay.output);
    REQUIRE(replay.status == 0);
    std::vector<std::string> live_lines, replay_lines;
    for (const json& j : live.lines)
        if (j.value("kind", "") == "timeline") live_lines.push_back(j.dump());
    std::istringstream in(replay.output);
    for (std::string line; std::getline(in, line);) {
        json j = json::parse(line, nullptr, false);
        if (j.is_object() && j.value("kind", "") == "timeline") replay_lines.push_back(j.dump());
    }
    REQUIRE_FALSE(live_lines.empty());
    // Live, idle timelines complete on the wall clock; offline on the recorded times: same timelines,
    // possibly finished in another order.
    std::sort(live_lines.begin(), live_lines.end());
    std::sort(replay_lines.begin(), replay_lines.end());
    CHECK(replay_lines == live_lines);
}

TEST_CASE("timeline: the same story for a ping6 through a dual-stack tunnel", "[e2e][timeline]") {
    WGBPF_E2E_REQUIRE_ROOT();
    ::setenv("WGBPF_LAB_IPV6", "1", 1); // lab.sh adds fd10::/64 in the tunnel, fd51::9 behind it, ::/0
    struct Unset {
        ~Unset() { ::unsetenv("WGBPF_LAB_IPV6"); }
    } unset;
    Lab lab;
    const std::string wg = lab.wg_iface();
    WatchOutput out = watch_while(lab, [&] { CHECK(lab.exec("client", "ping -6 -n -c 1 fd51::9", 20s).status == 0); });
    std::vector<json> ts = out.of_kind("timeline");
    INFO(describe(ts));

    const json* inner = find_timeline(ts, [&](const json& t) {
        return str_field(t, "family") == "ipv6" && str_field(t, "dst") == "fd51::9" && int_field(t, "icmp_type") == 128;
    });
    REQUIRE(inner);
    CHECK(str_field(*inner, "outcome") == "encapsulated");
    CHECK(has_step(*inner, "route", [&](const json& s) {
        bool suppressed = false;
        for (const json& l : array_field(s, "lookups"))
            suppressed |= int_field(l, "rule") == 32764 && str_field(l, "result") == "suppressed";
        return str_field(s, "family") == "ipv6" && suppressed && int_field(s, "rule") == 32765 &&
               int_field(s, "table") == 51820 && str_field(s, "oif") == wg;
    }));
    CHECK(has_step(*inner, "netfilter", [](const json& s) {
        return str_field(s, "family") == "ip6" && str_field(s, "chain") == "postmangle";
    }));
    REQUIRE(inner->contains("encapsulated_in"));
    const json* outer = by_id(ts, (*inner)["encapsulated_in"]);
    REQUIRE(outer);
    CHECK((*outer)["outer_of"] == (*inner)["id"]);
    CHECK(str_field(*outer, "dst") == kEndpoint); // the tunnel itself runs over IPv4 here

    const json* reply = find_timeline(ts, [&](const json& t) {
        return str_field(t, "family") == "ipv6" && str_field(t, "src") == "fd51::9" && int_field(t, "icmp_type") == 129;
    });
    REQUIRE(reply);
    CHECK(reply->contains("decapsulated_from"));
    CHECK(has_step(*reply, "netfilter", [](const json& s) {
        return str_field(s, "family") == "ip6" && str_field(s, "chain") == "preraw" &&
               str_field(s, "verdict") == "accept";
    }));
    CHECK(str_field(*reply, "outcome") == "delivered");
    // Too big for the tunnel: the kernel fragments the ping6 at its source to fit wg0 (IPv6 routers never do), each
    // fragment crosses the tunnel as a packet of its own, and the reply's fragments are reassembled here.
    WatchOutput big =
        watch_while(lab, [&] { CHECK(lab.exec("client", "ping -6 -n -c 1 -s 1600 fd51::9", 20s).status == 0); });
    std::vector<json> bt = big.of_kind("timeline");
    INFO(describe(bt));
    bool in_place = false, made = false, reassembled = false, later = false;
    for (const json& t : bt) {
        for (const json& n : array_field(t, "notes")) {
            std::string note = n.get<std::string>();
            in_place =
                in_place || note.starts_with("fragmented to leave " + wg + " (MTU 1420): its 1648 bytes went out");
            if (note.starts_with("a fragment the kernel made of #")) {
                made = true;
                CHECK(str_field(t, "outcome") == "encapsulated");
            }
        }
        later = later || str_field(t, "fragment") == "later";
        if (str_field(t, "outcome") == "reassembled") reassembled = int_field(t, "reassembled_into").has_value();
    }
    CHECK(in_place);
    CHECK(made);
    CHECK(later);
    CHECK(reassembled);
}

TEST_CASE("timeline: under loss (--ringbuf-kib 64 and a ping flood) no story is fiction", "[e2e][timeline]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    // Pings and a UDP stream at once through the tunnel (iperf3's server inside the lab, both bounded).
    Process server("ip netns exec " + sh_quote(lab.server_ns()) + " iperf3 -s -1 -B " + kTarget);
    std::this_thread::sleep_for(500ms);
    WatchOutput out = watch_while(
        lab,
        [&] {
            Process stream("ip netns exec " + sh_quote(lab.client_ns()) + " iperf3 -u -b 200M -l 200 -t 5 -c " +
                           kTarget + " >/dev/null 2>&1");
            RunResult flood = lab.exec("client", std::string("ping -f -q -c 20000 -w 6 ") + kTarget, 30s);
            INFO(flood.output);
            stream.wait_for(20s);
        },
        10, "--ringbuf-kib 64");
    CHECK(out.exit_status == 0);
    const std::vector<json> summaries = out.of_kind("summary");
    REQUIRE(summaries.size() == 1);
    const int64_t lost = int_field(summaries[0], "lost").value_or(0);
    std::vector<json> timelines = out.of_kind("timeline");
    INFO(timelines.size() << " timelines, " << lost << " events lost");
    REQUIRE(!timelines.empty());
    if (lost == 0) WARN("no events were lost: the loss checks below prove less on this machine");

    size_t loss_gaps = 0;
    for (const json& t : timelines) {
        INFO(t.dump());
        bool from_here = str_field(t, "src") == kClientTunnel || str_field(t, "src") == kClientLan;
        // The client forwards nothing: no timeline may say so, whatever was lost.
        CHECK(str_field(t, "outcome") != "forwarded");
        // rp_filter checks packets this host receives: one on a packet it sent was borrowed from another.
        if (from_here) CHECK_FALSE(has_step(t, "rp_filter", [](const json&) { return true; }));
        // A drop needs a drop step, a chain's drop verdict, or kernel WireGuard's own verdict; never an inference
        // on a timeline events were lost around.
        if (str_field(t, "outcome") == "dropped")
            CHECK((has_step(t, "drop", [](const json&) { return true; }) ||
                   has_step(t, "netfilter", [](const json& s) { return str_field(s, "verdict") == "drop"; }) ||
                   has_step(t, "wireguard", [](const json& s) {
                       return s.contains("dropped") && !s["dropped"].is_null() && !s.value("inferred", false);
                   })));
        for (const json& g : array_field(t, "gaps"))
            if (g.get<std::string>().find("events lost") != std::string::npos) ++loss_gaps;
    }
    // Every loss shows up in the timelines it touched.
    if (lost > 0) CHECK(loss_gaps > 0);
}

TEST_CASE("timeline: pings already running while wgbpf attaches get whole stories, not the steps of the modules "
          "attached first",
          "[e2e][timeline]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    // 50 pings a second from before the start: seconds of them pass while the modules load one after another.
    Process pings("ip netns exec " + sh_quote(lab.client_ns()) + " ping -q -i 0.02 -w 120 " + kTarget +
                  " >/dev/null 2>&1");
    std::this_thread::sleep_for(300ms);
    WatchOutput out = watch_while(
        lab, [] { std::this_thread::sleep_for(1s); }, 2);
    pings.kill();
    CHECK(out.exit_status == 0);
    const std::vector<json> timelines = out.of_kind("timeline");
    REQUIRE(timelines.size() >= 20);
    // Each echo request and reply crosses the WireGuard interface: its story has that device step. A packet
    // half-way through its path at the very moment wgbpf arms the modules may lack it (one per direction); the
    // packets picked by the first modules to attach, before the others ran, lacked it by the dozen.
    size_t requests_without_device = 0, replies_without_device = 0;
    for (const json& t : timelines) {
        const bool request = str_field(t, "src") == kClientTunnel && str_field(t, "dst") == kTarget;
        const bool reply = str_field(t, "src") == kTarget && str_field(t, "dst") == kClientTunnel;
        if (!request && !reply) continue;
        if (has_step(t, "device", [](const json&) { return true; })) continue;
        UNSCOPED_INFO(t.dump());
        ++(request ? requests_without_device : replies_without_device);
    }
    CHECK(requests_without_device <= 1);
    CHECK(replies_without_device <= 1);
}

TEST_CASE("timeline: a route chain that marks the packet re-routes it: the second decision is in its timeline, "
          "after the chain, and agrees with the device it left on",
          "[e2e][timeline]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    // A kill switch / split tunnel in the style of VPN apps: `type route hook output` sets a mark, a rule
    // for that mark sends the packet to main (the LAN) instead of the tunnel.
    RunResult set = lab.exec("client", std::string("nft -f - <<'EOF'\n"
                                                   "table ip rr {\n"
                                                   "  chain mangle {\n"
                                                   "    type route hook output priority mangle; policy accept;\n"
                                                   "    ip daddr ") +
                                           kTarget +
                                           " icmp type echo-request meta mark set 0x1234\n"
                                           "  }\n"
                                           "}\n"
                                           "EOF\n"
                                           "ip rule add pref 100 fwmark 0x1234 lookup main");
    INFO(set.output);
    REQUIRE(set.status == 0);
    WatchOutput out = watch_while(lab, [&] { lab.exec("client", std::string("ping -n -c 1 -W 1 ") + kTarget, 10s); });
    CHECK(out.exit_status == 0);
    std::vector<json> timelines = out.of_kind("timeline");
    const json* request = echo_request(timelines);
    INFO(describe(timelines));
    REQUIRE(request);
    std::vector<std::string> order;
    for (const json& s : array_field(*request, "steps")) {
        std::string kind = str_field(s, "kind").value_or("");
        if (kind == "route") order.push_back(s.value("reroute", false) ? "re-route" : "route");
        else if (kind == "netfilter" && str_field(s, "table") == "rr") order.push_back("rr");
        else if (kind == "device") order.push_back("dev " + str_field(s, "dev").value_or(""));
    }
    CHECK(order == std::vector<std::string>{"route", "rr", "re-route", "dev c0"});
    const json* reroute = nullptr;
    for (const json& s : array_field(*request, "steps"))
        if (s.value("reroute", false)) reroute = &s;
    REQUIRE(reroute);
    CHECK(int_field(*reroute, "mark") == 0x1234);
    CHECK(int_field(*reroute, "rule") == 100);
    CHECK(str_field(*reroute, "oif") == "c0");
    for (const json& g : array_field(*request, "gaps"))
        CHECK(g.get<std::string>().find("last route decision") == std::string::npos);
    CHECK(str_field(*request, "outcome") == "sent");
}

TEST_CASE("timeline: the watched interface is followed by name: deleted for longer than a refresh, then "
          "re-created with another index, it is watched again",
          "[e2e][timeline][host]") { // [host]: netlink and user space only; the VM adds nothing to it
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    // A link of its own between client and router, so that the lab's paths stay as they are.
    const std::string make = "ip link add wgbpfx0 netns " + sh_quote(lab.client_ns()) +
                             " type veth peer name wgbpfx1 netns " + sh_quote(lab.router_ns()) + " && ip -n " +
                             sh_quote(lab.client_ns()) + " addr add 10.98.0.1/24 dev wgbpfx0 && ip -n " +
                             sh_quote(lab.router_ns()) + " addr add 10.98.0.2/24 dev wgbpfx1 && ip -n " +
                             sh_quote(lab.client_ns()) + " link set wgbpfx0 up && ip -n " + sh_quote(lab.router_ns()) +
                             " link set wgbpfx1 up";
    REQUIRE(run_status(make).status == 0);
    // The watch says when it has the interface back: the ping waits for that, not for a guessed time (a
    // loaded host running VMs beside the suite took longer than a second).
    ScratchDir scratch;
    const std::string log = scratch.file("stderr");
    auto watch_says = [&](const std::string& words) {
        std::ifstream in(log);
        std::stringstream text;
        text << in.rdbuf();
        return text.str().find(words) != std::string::npos;
    };
    WatchOutput out = watch_while(
        lab.client_ns(), "wgbpfx0",
        [&] {
            REQUIRE(run_status("ip -n " + sh_quote(lab.client_ns()) + " link del wgbpfx0").status == 0);
            std::this_thread::sleep_for(6s); // longer than the WireGuard refresh and any settling
            REQUIRE(run_status(make).status == 0);
            for (int i = 0; i < 200 && !watch_says("interface wgbpfx0 is back"); ++i)
                std::this_thread::sleep_for(100ms);
            INFO("wgbpf stderr:\n" << std::ifstream(log).rdbuf());
            REQUIRE(watch_says("interface wgbpfx0 is back"));
            CHECK(lab.exec("client", "ping -n -c 2 -W 1 10.98.0.2", 10s).status == 0);
        },
        20, "2>" + sh_quote(log));
    CHECK(out.exit_status == 0);
    std::vector<json> timelines = out.of_kind("timeline");
    INFO(describe(timelines));
    const json* request = find_timeline(timelines, [](const json& t) {
        return str_field(t, "dst") == "10.98.0.2" && int_field(t, "icmp_type") == 8 &&
               has_step(t, "device", [](const json& s) { return str_field(s, "dev") == "wgbpfx0"; });
    });
    CHECK(request);
    REQUIRE(out.of_kind("summary").size() == 1);
}
