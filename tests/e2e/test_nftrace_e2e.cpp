// End-to-end: `watch --nftrace` on the seed topology. The deciding rule of each chain from nftables' own
// trace, a trace table that exists only while wgbpf runs (also after SIGKILL), the user's ruleset untouched.
// Root only; skips otherwise.
#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "watch_run.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using namespace wgbpf::e2e;

namespace {

std::string client_nft(const Lab& lab, const std::string& args) {
    RunResult r = lab.exec("client", "nft " + args, 20s);
    REQUIRE(r.status == 0);
    return r.output;
}

bool has_trace_table(const Lab& lab) {
    return client_nft(lab, "list tables").find("wgbpf_trace_") != std::string::npos;
}

} // namespace

TEST_CASE("nftrace: each chain's deciding rule, from a trace table that lives only while wgbpf runs",
          "[e2e][nftrace]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    const std::string wgq = "wg-quick-" + lab.wg_iface();
    const std::string ruleset_before = client_nft(lab, "list ruleset");
    bool table_during = false;
    ScratchDir scratch;
    const std::string file = scratch.file("nftrace.wgbpf");
    WatchOutput out = watch_while(
        lab,
        [&] {
            table_during = has_trace_table(lab);
            lab.exec("client", "conntrack -F 2>/dev/null || true");
            RunResult ping = lab.exec("client", std::string("ping -n -c 2 ") + kTarget, 20s);
            CHECK(ping.status == 0);
        },
        3, "--steps --nftrace -w " + sh_quote(file));
    CHECK(out.exit_status == 0);
    CHECK(table_during);
    CHECK_FALSE(has_trace_table(lab));
    CHECK(client_nft(lab, "list ruleset") == ruleset_before);

    std::vector<json> steps = out.of_kind("netfilter");
    INFO(steps.size() << " netfilter steps:\n" << describe(steps));
    // The echo reply is accepted in input by `ct state established,related accept` in chain global, reached
    // by `jump global`.
    bool input_rule = false;
    for (const json& s : steps)
        if (is_step(s, "input", "filter", "input") && str_field(s, "src") == kTarget &&
            str_field(s, "dst") == "10.0.0.1") {
            input_rule |= int_field(s, "rule_handle").has_value() && str_field(s, "trace_id").has_value() &&
                          str_field(s, "trace_id")->size() == 8 &&
                          str_field(s, "rule")->find("ct state established,related accept") != std::string::npos;
        }
    CHECK(input_rule);
    // The outer UDP packet's trip through postmangle shows the rule that stores the mark in conntrack.
    bool postmangle_traced = false;
    for (const json& s : steps)
        if (is_step(s, "postrouting", wgq, "postmangle") && str_field(s, "dst") == kEndpoint &&
            str_field(s, "trace_id"))
            for (const json& r : array_field(s, "traced_rules"))
                // "udp" or "17": nft names protocols from /etc/protocols, which a minimal system may lack
                postmangle_traced |= str_field(r, "rule").value_or("").find(
                                         "meta mark 0x0000ca6c ct mark set meta mark") != std::string::npos &&
                                     str_field(r, "verdict") == "continue";
    CHECK(postmangle_traced);
    // A chain without rules is decided by its policy: traced, but no rule.
    bool output_policy = false;
    for (const json& s : steps)
        if (is_step(s, "output", "filter", "output") && str_field(s, "trace_id"))
            output_policy |= !int_field(s, "rule_handle") && str_field(s, "rule") == "";
    CHECK(output_policy);

    std::vector<json> summary = out.of_kind("summary");
    REQUIRE(summary.size() == 1);
    const json& nftrace = summary[0].at("nftrace");
    CHECK(nftrace.at("running") == true);
    CHECK(nftrace.at("merged").get<int64_t>() > 0);

    // The recording holds the trace events: replay (no root) shows the same merged steps.
    REQUIRE(std::filesystem::exists(file));
    ::chmod(file.c_str(), 0644);
    RunResult replay = run_status("setpriv --reuid=nobody --regid=nogroup --clear-groups " + sh_quote(wgbpf_binary()) +
                                  " replay --json --steps " + sh_quote(file));
    std::filesystem::remove(file);
    REQUIRE(replay.status == 0);
    std::vector<std::string> live_lines, replay_lines;
    for (const json& s : steps) live_lines.push_back(s.dump());
    std::istringstream in(replay.output);
    for (std::string line; std::getline(in, line);) {
        json j = json::parse(line, nullptr, false);
        if (j.is_object() && j.value("kind", "") == "netfilter") replay_lines.push_back(j.dump());
    }
    std::sort(live_lines.begin(), live_lines.end());
    std::sort(replay_lines.begin(), replay_lines.end());
    CHECK(replay_lines == live_lines);
}

TEST_CASE("nftrace: the trace table goes with wgbpf even when it is killed", "[e2e][nftrace]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    const std::string ruleset_before = client_nft(lab, "list ruleset");
    Process watch("exec " + sh_quote(wgbpf_binary()) + " watch --netns " + sh_quote(lab.client_ns()) + " --iface " +
                  sh_quote(lab.wg_iface()) + " --json --nftrace --duration 30");
    require_ready(watch);
    CHECK(has_trace_table(lab));
    watch.kill(); // SIGKILL: no destructor runs; the kernel removes the table with its owner's socket
    bool gone = false;
    for (int i = 0; i < 40 && !gone; ++i) {
        gone = !has_trace_table(lab);
        if (!gone) std::this_thread::sleep_for(50ms);
    }
    CHECK(gone);
    CHECK(client_nft(lab, "list ruleset") == ruleset_before);
}

TEST_CASE("nftrace: when the kernel refuses the trace table, watch says why and goes on without it", "[e2e][nftrace]") {
    WGBPF_E2E_REQUIRE_ROOT();
    Lab lab;
    // A table of the name wgbpf will use, made first: the shell's PID is wgbpf's after `exec`.
    const std::string cmd = "ip netns exec " + sh_quote(lab.client_ns()) +
                            " nft add table inet wgbpf_trace_$$ && exec " + sh_quote(wgbpf_binary()) +
                            " watch --netns " + sh_quote(lab.client_ns()) + " --iface " + sh_quote(lab.wg_iface()) +
                            " --json --nftrace --duration 1";
    RunResult watch = run_status(cmd, 120s);
    const std::string tables = client_nft(lab, "list tables");
    // Not wgbpf's to delete (it did not make it): the test cleans up after itself.
    for (size_t at = tables.find("wgbpf_trace_"); at != std::string::npos; at = tables.find("wgbpf_trace_", at + 1))
        client_nft(lab, "delete table inet " + tables.substr(at, tables.find('\n', at) - at));
    INFO("stdout:\n" << watch.output);
    CHECK(watch.status == 0);
    std::string last_line = watch.output.substr(0, watch.output.find_last_not_of('\n') + 1);
    last_line = last_line.substr(last_line.rfind('\n') + 1);
    json summary = json::parse(last_line, nullptr, false);
    REQUIRE(summary.is_object());
    CHECK(summary.value("kind", "") == "summary");
    const json& nftrace = summary.at("nftrace");
    CHECK(nftrace.at("running") == false);
    CHECK(nftrace.at("off_reason").get<std::string>().find("File exists") != std::string::npos);
    bool watched = false; // the watch itself ran
    for (const json& m : summary.at("modules")) watched |= m.value("name", "") == "route" && m.value("running", false);
    CHECK(watched);
}
