// End-to-end: a bad day. A flood, a stdout nobody reads, Ctrl-C while attaching, a second instance, the
// WireGuard interface taken down and up, a namespace with 200k routes. Root only.
//
// `[host]` tests are about wgbpf's user space (signals, memory, output): they run on this machine only, not
// again in the stock-kernel VMs, whose single emulated CPU would make their bounds meaningless.
#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "watch_run.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using namespace wgbpf::e2e;

namespace {

// The one memory ceiling README.md documents ("Memory"), for watch, replay and compare.
constexpr uint64_t kCeilingKib = 256 * 1024;

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// Peak resident memory of a live process (VmHWM), KiB; 0 when it is gone.
uint64_t peak_rss_kib(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6));
    return 0;
}

// Waits for a file to contain `text` (a watch's stderr, its "ready" line) while `p` runs.
bool wait_for_text(const std::string& path, const std::string& text, Process& p, std::chrono::seconds timeout = 90s) {
    for (auto until = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < until;) {
        if (read_text(path).find(text) != std::string::npos) return true;
        if (!p.running()) return false;
        std::this_thread::sleep_for(50ms);
    }
    return false;
}

std::string watch_command(const std::string& netns, const std::string& args) {
    return "exec " + sh_quote(wgbpf_binary()) + " watch --netns " + sh_quote(netns) + " " + args;
}

// UDP as fast as the client can send, through the tunnel to the server, for `seconds`; iperf3 bounds itself.
struct UdpFlood {
    Process server;
    std::optional<Process> client;
    UdpFlood(const Lab& lab, int seconds)
        : server("exec ip netns exec " + sh_quote(lab.server_ns()) + " iperf3 -s -1 -B " + kTarget +
                 " >/dev/null 2>&1") {
        std::this_thread::sleep_for(500ms); // the server listens
        client.emplace("exec ip netns exec " + sh_quote(lab.client_ns()) + " iperf3 -u -b 0 -l 64 -t " +
                       std::to_string(seconds) + " -c " + kTarget + " >/dev/null 2>&1");
    }
};

// The last stdout line of a --json watch, parsed (discarded when it is not JSON).
json last_line(std::string text) {
    while (!text.empty() && text.back() == '\n') text.pop_back();
    size_t start = text.rfind('\n');
    return json::parse(text.substr(start == std::string::npos ? 0 : start + 1), nullptr, false);
}

} // namespace

TEST_CASE("hardening: under a UDP flood (with --nftrace), Ctrl-C ends the watch within a second, with its "
          "summary, and memory stays under the ceiling",
          "[e2e][hardening][host]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    ScratchDir dir;
    Process watch(watch_command(lab.client_ns(), "--iface " + sh_quote(lab.wg_iface()) + " --json --nftrace > " +
                                                     sh_quote(dir.file("out")) + " 2> " + sh_quote(dir.file("err"))));
    REQUIRE(wait_for_text(dir.file("err"), "wgbpf: ready:", watch));
    UdpFlood flood(lab, 15);
    std::this_thread::sleep_for(6s);
    REQUIRE(watch.running());
    const uint64_t peak = peak_rss_kib(watch.pid());
    const auto asked = std::chrono::steady_clock::now();
    watch.interrupt();
    const bool ended = watch.wait_for(5s);
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - asked);
    const std::string err = read_text(dir.file("err"));
    INFO("stderr:\n" << err);
    INFO("ended " << took.count() << " ms after SIGINT; peak RSS " << peak << " KiB");
    REQUIRE(ended);
    CHECK(took < 1000ms);
    CHECK(watch.exit_status() == 0);
    CHECK(err.find(" records in ") != std::string::npos);     // the summary
    CHECK(err.find("events were lost") != std::string::npos); // it was a flood indeed
    CHECK(str_field(last_line(read_text(dir.file("out"))), "kind") == "summary");
    CHECK(peak > 0);
    CHECK(peak < kCeilingKib);
}

TEST_CASE("hardening: --duration holds while nobody reads stdout, and the lost output is an error",
          "[e2e][hardening][host]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    ScratchDir dir;
    const std::string fifo = dir.file("stdout");
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    Process watch(watch_command(lab.client_ns(), "--iface " + sh_quote(lab.wg_iface()) + " --duration 3 > " +
                                                     sh_quote(fifo) + " 2> " + sh_quote(dir.file("err"))));
    const int reader = open(fifo.c_str(), O_RDONLY); // held open, never read: the pipe fills and writes block
    REQUIRE(reader >= 0);
    REQUIRE(wait_for_text(dir.file("err"), "wgbpf: ready:", watch));
    const auto ready = std::chrono::steady_clock::now();
    UdpFlood flood(lab, 10);
    const bool ended = watch.wait_for(15s);
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - ready);
    close(reader);
    const std::string err = read_text(dir.file("err"));
    INFO("stderr:\n" << err);
    INFO("ended " << took.count() << " ms after its ready line (--duration 3)");
    REQUIRE(ended);
    CHECK(took < 5000ms); // 3 s, then at most a second of trying to write, and the way out
    CHECK(watch.exit_status() == 1);
    CHECK(err.find("stdout was not being read when the watch stopped") != std::string::npos);
}

TEST_CASE("hardening: Ctrl-C while attaching stops before watching begins and leaves nothing behind",
          "[e2e][hardening][host]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    ScratchDir dir;
    Process watch(watch_command(lab.client_ns(), "--iface " + sh_quote(lab.wg_iface()) + " --json --nftrace 2> " +
                                                     sh_quote(dir.file("err"))));
    std::this_thread::sleep_for(300ms); // loading the probes takes longer than this
    watch.interrupt();
    REQUIRE(watch.wait_for(30s));
    const std::string err = read_text(dir.file("err"));
    INFO("stderr:\n" << err);
    CHECK(watch.exit_status() == 0);
    CHECK(err.find("stopped during start-up, before watching began") != std::string::npos);
    CHECK(err.find("ready") == std::string::npos);
    CHECK(watch.output().find("\"ready\"") == std::string::npos);
    CHECK(wgbpf_links_left().empty());
    CHECK(lab.exec("client", "nft list tables").output.find("wgbpf_trace") == std::string::npos);
}

TEST_CASE("hardening: two watches of the same namespace at once, with --nftrace: both run every module and "
          "both match their traces",
          "[e2e][hardening]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    ScratchDir dir;
    // Stopped with Ctrl-C once the pings are done: a fixed --duration ran out on the first watch before the second
    // was attached under a loaded VM (a flake in CI, 6.1).
    const std::string args = "--iface " + sh_quote(lab.wg_iface()) + " --json --nftrace";
    Process first(watch_command(lab.client_ns(), args + " 2> " + sh_quote(dir.file("first"))));
    require_ready(first);
    Process second(watch_command(lab.client_ns(), args + " 2> " + sh_quote(dir.file("second"))));
    require_ready(second);
    CHECK(lab.exec("client", std::string("ping -n -c 3 -i 0.3 ") + kTarget, 20s).status == 0);
    std::this_thread::sleep_for(1s); // the last reply's events reach both watches
    for (Process* p : {&first, &second}) p->interrupt();
    for (Process* p : {&first, &second}) {
        REQUIRE(p->wait_for(40s));
        CHECK(p->exit_status() == 0);
        std::vector<json> lines = json_lines(p->output());
        REQUIRE(!lines.empty());
        const json& summary = lines.back();
        INFO(summary.dump());
        REQUIRE(str_field(summary, "kind") == "summary");
        for (const json& m : array_field(summary, "modules"))
            if (str_field(m, "name") != "wireguard") CHECK(m.value("running", false)); // kernel WireGuard: VMs only
        CHECK(summary["nftrace"].value("running", false));
        CHECK(summary["nftrace"].value("merged", 0) > 0);
        CHECK(summary["nftrace"].value("unmatched", 1) == 0);
        size_t encapsulated = 0;
        for (const json& t : lines)
            if (str_field(t, "kind") == "timeline" && str_field(t, "outcome") == "encapsulated") ++encapsulated;
        CHECK(encapsulated >= 3);
    }
    INFO(read_text(dir.file("second")));
    CHECK(read_text(dir.file("second")).find("netfilter module cannot run") == std::string::npos);
}

TEST_CASE("hardening: the WireGuard interface taken down and up again by wg-quick: said, survived, watched again",
          "[e2e][hardening]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    ScratchDir dir;
    const std::string conf = "/run/wgbpf-lab/" + lab.name() + "/" + lab.wg_iface() + ".conf";
    const std::string up =
        std::string(lab.kernel_wireguard() ? "" : "WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go ") + "wg-quick up " +
        sh_quote(conf) + " 2>&1";
    Process watch(watch_command(lab.client_ns(), "--iface " + sh_quote(lab.wg_iface()) + " --json --duration 20 -w " +
                                                     sh_quote(dir.file("rec")) + " 2> " + sh_quote(dir.file("err"))));
    require_ready(watch);
    RunResult down = lab.exec("client", "wg-quick down " + sh_quote(conf) + " 2>&1", 30s);
    INFO(down.output);
    REQUIRE(down.status == 0);
    std::this_thread::sleep_for(6s); // longer than the WireGuard refresh
    RunResult again = lab.exec("client", up, 30s);
    INFO(again.output);
    REQUIRE(again.status == 0);
    std::this_thread::sleep_for(2s);
    // Five pings, three of them linked at least: once, under CI load in the 6.12 VM, only 2 of 3 were (cause not
    // found; the timelines are printed when it fails).
    CHECK(lab.exec("client", std::string("ping -n -c 5 -i 0.3 -W 2 ") + kTarget, 20s).status == 0);
    REQUIRE(watch.wait_for(40s));
    const std::string err = read_text(dir.file("err"));
    INFO("stderr:\n" << err);
    CHECK(watch.exit_status() == 0);
    CHECK(err.find("interface " + lab.wg_iface() + " is gone") != std::string::npos);
    CHECK(err.find("interface " + lab.wg_iface() + " is back") != std::string::npos);
    std::vector<json> lines = json_lines(watch.output());
    REQUIRE(!lines.empty());
    CHECK(str_field(lines.back(), "kind") == "summary");
    size_t linked = 0;
    std::string stories; // what each timeline came to, for a failure
    for (const json& t : lines) {
        if (str_field(t, "kind") != "timeline") continue;
        stories += str_field(t, "src").value_or("?") + " -> " + str_field(t, "dst").value_or("?") + " " +
                   str_field(t, "outcome").value_or("?") + "\n";
        if (str_field(t, "outcome") == "encapsulated" && t.contains("encapsulated_in")) ++linked;
    }
    INFO("timelines:\n" << stories);
    CHECK(linked >= 3); // the pings after the interface came back, each with its outer packet
    // The recording is whole: it replays to its end frame.
    RunResult replay =
        run_status(sh_quote(wgbpf_binary()) + " replay " + sh_quote(dir.file("rec")) + " >/dev/null 2>&1");
    CHECK(replay.status == 0);
}

namespace {

// A namespace of its own with a large routing table in four tables (as a full-table router has), deleted with
// everything in it.
struct RoutedNamespace {
    struct Created { // deleted even when filling it fails
        std::string name = "wgbpf-e2e-routes-" + std::to_string(getpid());
        Created() { run("ip netns add " + name); }
        ~Created() { run_status("ip netns del " + name); }
    } created;
    const std::string& name = created.name;
    RoutedNamespace(const ScratchDir& dir, int routes) {
        run("ip -n " + name + " link add r0 type veth peer name r1 && ip -n " + name + " link set r0 up && ip -n " +
            name + " link set r1 up && ip -n " + name + " addr add 10.77.0.1/24 dev r0 && ip -n " + name +
            " link set lo up");
        std::ofstream batch(dir.file("routes.batch"));
        for (int i = 0; i < routes; ++i)
            batch << "route add 172." << 16 + (i >> 16) << "." << ((i >> 8) & 255) << "." << (i & 255)
                  << "/32 dev r0 table " << 100 + i % 4 << "\n";
        batch.close();
        run("ip -n " + name + " -batch " + sh_quote(dir.file("routes.batch")), 120s);
    }
    void exec(const std::string& cmd) const { run("ip -n " + name + " " + cmd); }
};

std::vector<json> route_steps_to(const std::vector<json>& lines, const std::string& dst) {
    std::vector<json> out;
    for (const json& l : lines)
        if (str_field(l, "kind") == "route" && str_field(l, "dst") == dst) out.push_back(l);
    return out;
}

} // namespace

TEST_CASE("hardening: a namespace with 200k routes: route changes are followed one by one, recorded as changes, "
          "replayed the same, within the memory ceiling",
          "[e2e][hardening][host]") {
    WGBPF_E2E_REQUIRE_ROOT();
    ScratchDir dir;
    RoutedNamespace ns(dir, 200'000);
    Process watch(watch_command(ns.name, "--json --steps --duration 8 -w " + sh_quote(dir.file("rec"))));
    require_ready(watch);
    ns.exec("route add 198.18.0.0/24 via 10.77.0.2 dev r0");
    std::this_thread::sleep_for(500ms); // the notification reaches the watch
    ns.exec("route get 198.18.0.9");
    ns.exec("route del 198.18.0.0/24");
    ns.exec("route add 198.18.0.0/16 dev r0 metric 7");
    ns.exec("route del 172.16.0.4/32 table 100");
    // Added and replaced at once (one batch of notifications): the replacement is what routes.
    ns.exec("-batch - <<'EOF'\nroute add 198.19.0.0/24 via 10.77.0.2 dev r0\nroute replace 198.19.0.0/24 dev r1\nEOF");
    std::this_thread::sleep_for(500ms);
    ns.exec("route get 198.18.0.9");
    ns.exec("route get 198.19.0.9");
    const uint64_t peak = peak_rss_kib(watch.pid());
    REQUIRE(watch.wait_for(40s));
    CHECK(watch.exit_status() == 0);
    INFO("peak RSS " << peak << " KiB");
    CHECK(peak < kCeilingKib);

    std::vector<json> live = route_steps_to(json_lines(watch.output()), "198.18.0.9");
    INFO(describe(live));
    REQUIRE(live.size() == 2);
    CHECK(str_field(live[0], "prefix") == "198.18.0.0/24");
    CHECK(str_field(live[0], "gateway") == "10.77.0.2");
    CHECK(str_field(live[1], "prefix") == "198.18.0.0/16");
    std::vector<json> replaced = route_steps_to(json_lines(watch.output()), "198.19.0.9");
    INFO(describe(replaced));
    REQUIRE(replaced.size() == 1);
    CHECK(str_field(replaced[0], "prefix") == "198.19.0.0/24");
    CHECK_FALSE(str_field(replaced[0], "gateway"));

    // The recording holds the table once and then only what changed.
    struct stat st {};
    REQUIRE(stat(dir.file("rec").c_str(), &st) == 0);
    CHECK(st.st_size < 15 * 1024 * 1024);
    RunResult replay = run_status(sh_quote(wgbpf_binary()) + " replay --json --steps " + sh_quote(dir.file("rec")));
    CHECK(replay.status == 0);
    std::vector<json> replayed = route_steps_to(json_lines(replay.output), "198.18.0.9");
    REQUIRE(replayed.size() == 2);
    CHECK(replayed[0] == live[0]);
    CHECK(replayed[1] == live[1]);
}
