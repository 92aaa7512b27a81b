// `wgbpf compare --nftrace`: an nftrace log made with the seed article's procedure (its trace rules in
// every chain, `nft monitor trace`) matched with wgbpf's recording of the same ping.
#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "watch_run.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using namespace wgbpf::e2e;

namespace {


// The seed's `for CHAIN in ...` loops, for the lab's client (its wg-quick table is named after wg_iface).
std::string seed_trace_rules(const Lab& lab) {
    std::string cmds;
    for (const char* chain : {"input", "forward", "output"}) {
        cmds += std::string("nft insert rule inet filter ") + chain + " meta l4proto udp meta nftrace set 1; ";
        cmds += std::string("nft insert rule inet filter ") + chain +
                " icmp type '{ echo-request, echo-reply }' meta nftrace set 1; ";
    }
    const std::string table = "wg-quick-" + lab.wg_iface();
    for (const char* chain : {"preraw", "premangle", "postmangle"}) {
        cmds += "nft insert rule ip " + table + " " + chain + " meta l4proto udp meta nftrace set 1; ";
        cmds += "nft insert rule ip " + table + " " + chain + " icmp type '{ echo-request, echo-reply }' meta nftrace set 1; ";
    }
    return cmds;
}

} // namespace

TEST_CASE("compare: every nftrace trace of a ping has its wgbpf packet, and nftrace's encapsulation gap is shown",
          "[e2e][compare]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    RunResult rules = lab.exec("client", seed_trace_rules(lab) + "echo ok 2>&1");
    REQUIRE(rules.status == 0);

    const std::string base = "/tmp/wgbpf-e2e-compare-" + std::to_string(::getpid());
    const std::string trace_file = base + ".nftrace", recording = base + ".wgbpf";
    Process monitor("exec ip netns exec " + sh_quote(lab.client_ns()) + " nft monitor trace > " +
                    sh_quote(trace_file));
    std::this_thread::sleep_for(500ms); // subscribed before the first packet
    WatchOutput out = watch_while(lab, [&] {
        CHECK(lab.exec("client", std::string("ping -n -c 1 ") + kTarget, 20s).status == 0);
        std::this_thread::sleep_for(500ms);
    }, 6, "-w " + sh_quote(recording));
    monitor.interrupt();
    monitor.wait_for(5s);
    REQUIRE(out.exit_status == 0);

    RunResult text = run_status("cat " + sh_quote(trace_file));
    INFO("nft monitor trace:\n" << text.output);
    RunResult compared = run_status(sh_quote(wgbpf_binary()) + " compare --json --nftrace " + sh_quote(trace_file) + " " +
                                    sh_quote(recording)); // stdout only: logs go to stderr
    INFO("wgbpf compare:\n" << compared.output);
    RunResult human = run_status(sh_quote(wgbpf_binary()) + " compare --nftrace " + sh_quote(trace_file) + " " +
                                 sh_quote(recording) + " 2>&1");
    INFO("wgbpf compare (text):\n" << human.output);
    std::filesystem::remove(trace_file);
    std::filesystem::remove(recording);
    REQUIRE(compared.status == 0);

    std::vector<json> lines = json_lines(compared.output);
    REQUIRE_FALSE(lines.empty());
    const json& summary = lines.back();
    REQUIRE(summary.value("kind", "") == "summary");
    CHECK(summary["traces"].get<int>() >= 3); // echo request, its outer packet, the outer reply, the echo reply
    CHECK(summary["matched"] == summary["traces"]);
    CHECK(summary["only_nftrace"] == 0);
    CHECK(summary["disagreements"].empty());

    // The echo request's trace ends at WireGuard; wgbpf follows the packet into its outer packet.
    bool gap_reported = false;
    for (const json& l : lines) {
        if (l.value("kind", "") != "compare") continue;
        for (const json& note : l.value("notes", json::array()))
            gap_reported |= note.get<std::string>().find("encapsulation") != std::string::npos;
    }
    CHECK(gap_reported);
}

TEST_CASE("compare live: `nft monitor trace | wgbpf compare --nftrace -`, stopped with Ctrl-C", "[e2e][compare]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    REQUIRE(lab.exec("client", seed_trace_rules(lab) + "echo ok 2>&1").status == 0);
    const std::string errors = "/tmp/wgbpf-e2e-compare-live-" + std::to_string(::getpid()) + ".err";
    Process pipeline("ip netns exec " + sh_quote(lab.client_ns()) + " nft monitor trace | " + sh_quote(wgbpf_binary()) +
                     " compare --json --nftrace - --netns " + sh_quote(lab.client_ns()) + " --iface " +
                     sh_quote(lab.wg_iface()) + " 2> " + sh_quote(errors));
    // Attached once the watch says so on stderr (loading takes seconds under emulation).
    bool ready = false;
    for (int i = 0; i < 900 && !ready && pipeline.running(); ++i) {
        std::this_thread::sleep_for(100ms);
        ready = run_status("grep -q 'ready: attached' " + sh_quote(errors)).status == 0;
    }
    RunResult log = run_status("cat " + sh_quote(errors));
    INFO("wgbpf stderr:\n" << log.output);
    REQUIRE(ready);
    CHECK(lab.exec("client", std::string("ping -n -c 1 ") + kTarget, 20s).status == 0);
    std::this_thread::sleep_for(1s);
    pipeline.interrupt(); // Ctrl-C: nft ends, wgbpf stops watching and compares what it read
    REQUIRE(pipeline.wait_for(30s));
    std::string output = pipeline.output();
    INFO("wgbpf compare:\n" << output << "\nstderr:\n" << run_status("cat " + sh_quote(errors)).output);
    std::filesystem::remove(errors);

    std::vector<json> lines = json_lines(output);
    REQUIRE_FALSE(lines.empty());
    const json& summary = lines.back();
    REQUIRE(summary.value("kind", "") == "summary");
    CHECK(summary["traces"].get<int>() >= 3);
    CHECK(summary["matched"] == summary["traces"]);
    bool gap_reported = false;
    for (const json& l : lines)
        for (const json& note : l.value("notes", json::array()))
            gap_reported |= note.get<std::string>().find("encapsulation") != std::string::npos;
    CHECK(gap_reported);
}
