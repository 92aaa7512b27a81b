#pragma once
// Runs `wgbpf watch` on the lab while a test does something, and hands back its JSON lines.
#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lab_fixture.hpp"

#define WGBPF_E2E_REQUIRE_ROOT()                                                                                       \
    do {                                                                                                               \
        if (!::wgbpf::e2e::running_as_root()) SKIP(::wgbpf::e2e::not_root_reason());                                   \
    } while (0)

namespace wgbpf::e2e {

struct WatchOutput {
    int exit_status = -1;
    std::string stdout_text;
    std::vector<nlohmann::json> lines; // every stdout line, parsed (a non-JSON line fails the test)
    bool watched_all_traffic = false;  // the watch still ran when `during` returned
    std::vector<nlohmann::json> of_kind(const std::string& kind) const;
};

// The wgbpf binary under test: $WGBPF_BINARY, else the one this build made.
std::string wgbpf_binary();

// Starts `wgbpf watch --netns <client> --iface <wg> --json --duration <seconds> <extra>` (extra: e.g.
// "--steps" for step lines instead of timelines), waits until it is attached (its ready line), runs
// `during`, waits for it to end by itself, parses its output. The duration counts from the ready line.
WatchOutput watch_while(const Lab& lab, const std::function<void()>& during, int duration_s = 8,
                        const std::string& extra_args = "");
// The same in another namespace of the lab (e.g. the server's) on its interface.
WatchOutput watch_while(const std::string& netns, const std::string& iface, const std::function<void()>& during,
                        int duration_s = 8, const std::string& extra_args = "");
// Any command that watches (`top ...`), given its arguments: --json, --duration and `extra_args` follow them.
WatchOutput wgbpf_while(const std::string& args, const std::function<void()>& during, int duration_s,
                        const std::string& extra_args = "");

// Every non-empty line of wgbpf's JSON output, parsed (a line that is not a JSON object fails the test).
std::vector<nlohmann::json> json_lines(const std::string& text);

// Waits for the `"kind": "ready"` line of `wgbpf watch --json`: everything is attached from then on
// (loading takes seconds under emulation; traffic sent earlier would not be seen).
bool wait_until_ready(Process& watch, std::chrono::seconds timeout = std::chrono::seconds(90));
// The same, failing the test with the watch's exit status and stdout when the line never comes.
void require_ready(Process& watch, std::chrono::seconds timeout = std::chrono::seconds(90));

// A netlink socket in a lab namespace subscribed to nftables' trace messages (NFNLGRP_NFTRACE), as
// `nft monitor trace` makes (and `wgbpf watch --nftrace`): from /proc/net/netlink read in that namespace.
struct NftraceListener {
    uint64_t inode = 0;
    uint64_t rmem = 0; // bytes queued for it and not read yet
};
std::vector<NftraceListener> nftrace_listeners(const Lab& lab, const std::string& role = "client");
// Waits until a trace listener not in `before` exists in the namespace (subscribed: every trace message from
// then on is queued for it) while `owner` (the `nft monitor trace` process) runs; fails the test if none
// comes within the timeout. Returns the new listener.
NftraceListener require_new_nftrace_listener(const Lab& lab, const std::vector<NftraceListener>& before, Process& owner,
                                             std::chrono::seconds timeout = std::chrono::seconds(60),
                                             const std::string& role = "client");
// Waits until that listener has read every message queued for it (its receive queue is empty), or it is
// gone, or the timeout passes; false on the timeout.
bool wait_until_read(const Lab& lab, uint64_t inode, std::chrono::seconds timeout = std::chrono::seconds(20),
                     const std::string& role = "client");

// The first timeline `pred` accepts; the one with this id; a timeline's steps of one kind; whether one of
// them is as `pred` wants.
const nlohmann::json* find_timeline(const std::vector<nlohmann::json>& ts,
                                    const std::function<bool(const nlohmann::json&)>& pred);
const nlohmann::json* by_id(const std::vector<nlohmann::json>& ts, const nlohmann::json& id);
std::vector<nlohmann::json> steps_of(const nlohmann::json& t, const char* kind);
bool has_step(const nlohmann::json& t, const char* kind, const std::function<bool(const nlohmann::json&)>& pred);

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
