#pragma once
// Runs `wgbpf watch` on the lab while a test does something, and hands back its JSON lines.
#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lab_fixture.hpp"

#define WGBPF_E2E_REQUIRE_ROOT()                                    \
    do {                                                            \
        if (!::wgbpf::e2e::running_as_root())                       \
            SKIP(::wgbpf::e2e::not_root_reason());                  \
    } while (0)

namespace wgbpf::e2e {

struct WatchOutput {
    int exit_status = -1;
    std::string stdout_text;
    std::vector<nlohmann::json> lines;          // every stdout line, parsed (a non-JSON line fails the test)
    std::vector<nlohmann::json> of_kind(const std::string& kind) const;
};

// The wgbpf binary under test: $WGBPF_BINARY, else the one this build made.
std::string wgbpf_binary();

// Starts `wgbpf watch --netns <client> --iface <wg> --json --duration <seconds> <extra>` (extra: e.g.
// "--steps" for step lines instead of timelines), waits until it is attached (its ready line), runs
// `during`, waits for it to end by itself, parses its output. The duration counts from the ready line.
WatchOutput watch_while(const Lab& lab, const std::function<void()>& during, int duration_s = 8,
                        const std::string& extra_args = "");

// Every non-empty line of wgbpf's JSON output, parsed (a line that is not a JSON object fails the test).
std::vector<nlohmann::json> json_lines(const std::string& text);

// Waits for the `"kind": "ready"` line of `wgbpf watch --json`: everything is attached from then on
// (loading takes seconds under emulation; traffic sent earlier would not be seen).
bool wait_until_ready(Process& watch, std::chrono::seconds timeout = std::chrono::seconds(90));

std::optional<int64_t> int_field(const nlohmann::json& j, const char* key);
std::optional<std::string> str_field(const nlohmann::json& j, const char* key);
const nlohmann::json& array_field(const nlohmann::json& j, const char* key);

// Whether a `"kind": "netfilter"` object is the step of this hook, table and chain.
bool is_step(const nlohmann::json& s, const char* hook, const std::string& table, const char* chain);
// JSON objects one a line, indented, for INFO(...).
std::string describe(const std::vector<nlohmann::json>& objects);

// Our BPF links still present in the kernel (bpftool link show): their program names.
std::vector<std::string> wgbpf_links_left();

} // namespace wgbpf::e2e
