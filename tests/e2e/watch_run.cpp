#include "watch_run.hpp"

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <thread>

#ifndef WGBPF_BINARY
#error "WGBPF_BINARY must be defined (tests/CMakeLists.txt)"
#endif

using namespace std::chrono_literals;
using nlohmann::json;

namespace wgbpf::e2e {

std::string wgbpf_binary() {
    const char* v = std::getenv("WGBPF_BINARY");
    return v && *v ? std::string(v) : std::string(WGBPF_BINARY);
}

std::vector<json> WatchOutput::of_kind(const std::string& kind) const {
    std::vector<json> out;
    for (const json& j : lines)
        if (j.value("kind", "") == kind) out.push_back(j);
    return out;
}

WatchOutput watch_while(const Lab& lab, const std::function<void()>& during, int duration_s,
                        const std::string& extra_args) {
    return watch_while(lab.client_ns(), lab.wg_iface(), during, duration_s, extra_args);
}

WatchOutput watch_while(const std::string& netns, const std::string& iface, const std::function<void()>& during,
                        int duration_s, const std::string& extra_args) {
    return wgbpf_while("watch --netns " + sh_quote(netns) + " --iface " + sh_quote(iface), during, duration_s,
                       extra_args);
}

WatchOutput wgbpf_while(const std::string& args, const std::function<void()>& during, int duration_s,
                        const std::string& extra_args) {
    REQUIRE(std::filesystem::exists(wgbpf_binary()));
    const std::string cmd = "exec " + sh_quote(wgbpf_binary()) + " " + args + " --json --duration " +
                            std::to_string(duration_s) + " " + extra_args;
    INFO("command: " << cmd);
    Process watch(cmd);
    require_ready(watch);
    during();
    const bool out_lived = watch.running();
    if (!out_lived)
        WARN("wgbpf watch ended (--duration " << duration_s
                                              << " s from its ready line) before the test's traffic was "
                                                 "done: what came after was not watched");
    bool exited = watch.wait_for(std::chrono::seconds(duration_s + 20));
    if (!exited) watch.kill();
    WatchOutput out;
    out.watched_all_traffic = out_lived;
    out.stdout_text = watch.output();
    out.exit_status = watch.exit_status().value_or(-1);
    INFO("wgbpf stdout:\n" << out.stdout_text);
    REQUIRE(exited);
    out.lines = json_lines(out.stdout_text);
    return out;
}

std::vector<json> json_lines(const std::string& text) {
    std::vector<json> lines;
    std::istringstream in(text);
    size_t n = 0;
    for (std::string line; std::getline(in, line);) {
        ++n;
        if (line.empty()) continue;
        try {
            lines.push_back(json::parse(line));
        } catch (const json::exception& e) {
            FAIL("stdout line " << n << " is not JSON (" << e.what() << "): " << line);
        }
        REQUIRE(lines.back().is_object());
    }
    return lines;
}

bool is_step(const json& s, const char* hook, const std::string& table, const char* chain) {
    return str_field(s, "hook") == hook && str_field(s, "table") == table && str_field(s, "chain") == chain;
}

std::string describe(const std::vector<json>& objects) {
    std::string out;
    for (const json& o : objects) out += "  " + o.dump() + "\n";
    return out;
}

bool wait_until_ready(Process& watch, std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (watch.output().find("\"kind\":\"ready\"") != std::string::npos) return true;
        if (!watch.running()) return watch.output().find("\"kind\":\"ready\"") != std::string::npos;
        std::this_thread::sleep_for(50ms);
    }
    return false;
}

void require_ready(Process& watch, std::chrono::seconds timeout) {
    if (wait_until_ready(watch, timeout)) return;
    const bool running = watch.running();
    FAIL("wgbpf watch did not say it was attached (no \"kind\":\"ready\" line) "
         << (running ? "within " + std::to_string(timeout.count()) + " s"
                     : "before it exited with status " + std::to_string(watch.exit_status().value_or(-1)))
         << "; command: " << watch.command() << "\nstdout:\n"
         << watch.output());
}

std::vector<NftraceListener> nftrace_listeners(const Lab& lab, const std::string& role) {
    // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode: Eth is the protocol, Groups the first 32
    // multicast groups as a hex mask (group g is bit g - 1).
    constexpr unsigned kNetlinkNetfilter = 12;           // NETLINK_NETFILTER
    constexpr uint32_t kNftraceGroupBit = 1u << (9 - 1); // NFNLGRP_NFTRACE
    RunResult r = lab.exec(role, "cat /proc/net/netlink", std::chrono::seconds(20));
    INFO("/proc/net/netlink in the " << role << " namespace:\n" << r.output);
    REQUIRE(r.status == 0);
    std::istringstream in(r.output);
    std::string header;
    std::getline(in, header);
    std::vector<std::string> names;
    {
        std::istringstream h(header);
        for (std::string w; h >> w;) names.push_back(w);
    }
    auto column = [&](const char* name) -> size_t {
        for (size_t i = 0; i < names.size(); ++i)
            if (names[i] == name) return i;
        FAIL("no column " << name << " in /proc/net/netlink");
        return 0;
    };
    const size_t eth = column("Eth"), groups = column("Groups"), rmem = column("Rmem"), inode = column("Inode");
    std::vector<NftraceListener> out;
    for (std::string line; std::getline(in, line);) {
        std::vector<std::string> f;
        std::istringstream l(line);
        for (std::string w; l >> w;) f.push_back(w);
        if (f.size() < names.size()) continue;
        if (std::stoul(f[eth]) != kNetlinkNetfilter) continue;
        if (!(std::stoul(f[groups], nullptr, 16) & kNftraceGroupBit)) continue;
        out.push_back({std::stoull(f[inode]), std::stoull(f[rmem])});
    }
    return out;
}

NftraceListener require_new_nftrace_listener(const Lab& lab, const std::vector<NftraceListener>& before, Process& owner,
                                             std::chrono::seconds timeout, const std::string& role) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        for (const NftraceListener& l : nftrace_listeners(lab, role)) {
            bool old = false;
            for (const NftraceListener& b : before) old |= b.inode == l.inode;
            if (!old) return l;
        }
        if (!owner.running())
            FAIL("`" << owner.command() << "` exited (status " << owner.exit_status().value_or(-1)
                     << ") before it listened to nftables' trace messages; stdout:\n"
                     << owner.output());
        if (std::chrono::steady_clock::now() >= deadline)
            FAIL("`" << owner.command()
                     << "` did not listen to nftables' trace messages (no netlink socket in group "
                        "NFNLGRP_NFTRACE in the "
                     << role << " namespace) within " << timeout.count() << " s");
        std::this_thread::sleep_for(50ms);
    }
}

bool wait_until_read(const Lab& lab, uint64_t inode, std::chrono::seconds timeout, const std::string& role) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        bool queued = false;
        for (const NftraceListener& l : nftrace_listeners(lab, role)) queued |= l.inode == inode && l.rmem > 0;
        if (!queued) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(50ms);
    }
}

std::optional<int64_t> int_field(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<int64_t>();
}

std::optional<std::string> str_field(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
}

const json& array_field(const json& j, const char* key) {
    static const json empty = json::array();
    auto it = j.find(key);
    return it != j.end() && it->is_array() ? *it : empty;
}

std::vector<std::string> wgbpf_links_left() {
    RunResult r = run_status("bpftool -j link show");
    std::vector<std::string> ours;
    if (r.status != 0) return ours;
    json links = json::parse(r.output, nullptr, false);
    if (!links.is_array()) return ours;
    for (const json& l : links) {
        // bpftool names the program by id; ask for its name
        if (!l.contains("prog_id")) continue;
        RunResult p = run_status("bpftool -j prog show id " + std::to_string(l["prog_id"].get<int64_t>()));
        json prog = json::parse(p.output, nullptr, false);
        std::string name = prog.is_object() ? prog.value("name", "") : "";
        for (const char* prefix : {"nf_bracket_", "nf_chain_", "route_", "rules_", "drop_"})
            if (name.rfind(prefix, 0) == 0) ours.push_back(name);
    }
    return ours;
}

const json* find_timeline(const std::vector<json>& ts, const std::function<bool(const json&)>& pred) {
    for (const json& t : ts)
        if (pred(t)) return &t;
    return nullptr;
}

const json* by_id(const std::vector<json>& ts, const json& id) {
    return find_timeline(ts, [&](const json& t) { return t.contains("id") && t["id"] == id; });
}

std::vector<json> steps_of(const json& t, const char* kind) {
    std::vector<json> out;
    for (const json& s : array_field(t, "steps"))
        if (str_field(s, "kind") == kind) out.push_back(s);
    return out;
}

bool has_step(const json& t, const char* kind, const std::function<bool(const json&)>& pred) {
    for (const json& s : steps_of(t, kind))
        if (pred(s)) return true;
    return false;
}

} // namespace wgbpf::e2e
