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
    REQUIRE(std::filesystem::exists(wgbpf_binary()));
    const std::string cmd = "exec " + sh_quote(wgbpf_binary()) + " watch --netns " + sh_quote(lab.client_ns()) + " --iface " +
                            sh_quote(lab.wg_iface()) + " --json --duration " + std::to_string(duration_s) + " " +
                            extra_args;
    INFO("command: " << cmd);
    Process watch(cmd);
    if (!wait_until_ready(watch))
        FAIL("wgbpf watch did not get ready (status " << watch.exit_status().value_or(-1) << "), stdout:\n"
                                                      << watch.output());
    during();
    bool exited = watch.wait_for(std::chrono::seconds(duration_s + 20));
    if (!exited) watch.kill();
    WatchOutput out;
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
        if (!watch.running()) return false;
        std::this_thread::sleep_for(50ms);
    }
    return false;
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

} // namespace wgbpf::e2e
