#include "diagnose_command.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <iostream>

#include "common/exit_codes.hpp"
#include "common/clock.hpp"
#include "common/result.hpp"
#include "config/netns_config.hpp"
#include "diagnose/static_checks.hpp"
#include "diagnose/timeline_evidence.hpp"
#include "event/module_status.hpp"
#include "record/replay.hpp"
#include "record/replay_session.hpp"
#include "render/diagnose_render.hpp"
#include "timeline/packet_timeline.hpp"
#include "wireguard/wg_config.hpp"

namespace wgbpf {
namespace {

// The interface diagnosed: the one asked for, else the first WireGuard interface described.
const WgInterface* diagnosed(const std::vector<WgInterface>& wg, const std::string& iface) {
    for (const WgInterface& w : wg)
        if (iface.empty() || w.name == iface) return &w;
    return nullptr;
}

// What the modules' state means for the findings: a module that did not run cannot have seen its part (the
// kernel WireGuard module's probe has nothing to see on a user-space interface).
void add_limits(DiagnoseReport& r, const std::vector<ModuleStatus>& modules, const WgInterface* wg) {
    for (const ModuleStatus& m : modules) {
        if (!m.running && m.module == ModuleId::wireguard && !(wg && wg->implementation == WgImplementation::kernel))
            continue;
        if (!m.running) {
            r.limits.push_back(fmt::format("module {} not running{}", name_of(m.module),
                                           m.notes.empty() ? "" : ": " + m.notes.front()));
            continue;
        }
        if (m.lost)
            r.limits.push_back(fmt::format("{} {} events lost: findings may miss packets", m.lost, name_of(m.module)));
    }
}

std::string implementation_of(const WgInterface* wg) {
    if (!wg) return "";
    return wg->implementation == WgImplementation::kernel ? "kernel WireGuard" : "user-space WireGuard";
}

// A prediction about a peer's endpoint path in this namespace that the packets contradict: packets of that peer
// came out of the tunnel while none of its outer packets passed here. Its UDP socket then lives in another
// namespace (WireGuard's namespace integration: an interface moved out of the namespace it was created in),
// whose routes wgbpf did not read. Said as a limit, never as a finding.
std::optional<std::string> contradicted(const Finding& f, const std::vector<WgInterface>& wireguard,
                                        const TimelineEvidence& evidence) {
    bool about_path = f.kind == FindingKind::endpoint_route_loop || f.kind == FindingKind::endpoint_unreachable ||
                      f.kind == FindingKind::rp_filter_drops_replies || f.kind == FindingKind::mtu_exceeds_path;
    if (!about_path || f.peer.empty()) return std::nullopt;
    for (const WgInterface& w : wireguard)
        for (const WgPeer& p : w.peers)
            if (w.name == f.interface && p.public_key == f.peer && evidence.reached_elsewhere(w, p))
                return fmt::format("{} predicted for {}, yet packets of that peer came out of {} while none of its "
                                   "outer packets passed this namespace: its socket is in another namespace (a moved "
                                   "interface), whose routes were not read",
                                   finding_name(f.kind), f.subject, f.interface);
    return std::nullopt;
}

struct Collected {
    TimelineEvidence evidence;
    std::optional<NetnsConfig> first; // the configuration as the watch began: the static checks read it
    NetnsConfig latest;               // as it is now: the packets are read against it
    std::vector<WgInterface> wireguard;
    uint64_t end_ns = 0; // live: when the watch ended (CLOCK_MONOTONIC, the events' clock)
};

int finish(const DiagnoseOptions& o, Collected& c, DiagnoseReport& r) {
    std::string iface = o.watch.iface;
    if (iface.empty() && !c.wireguard.empty()) iface = c.wireguard.front().name;
    r.interface = iface;
    r.netns = o.watch.netns.empty() ? std::string() : o.watch.netns.front();
    r.implementation = implementation_of(diagnosed(c.wireguard, iface));
    if (c.wireguard.empty())
        r.limits.push_back(iface.empty()
                               ? "no WireGuard interface was described"
                               : iface + " is not a WireGuard interface (or its configuration could not be read)");
    if (c.first) {
        StaticReport s = static_findings(*c.first, c.wireguard);
        r.checks = s.checks;
        for (Finding& f : s.findings) {
            if (auto why = contradicted(f, c.wireguard, c.evidence)) r.limits.push_back(*why);
            else r.findings.push_back(std::move(f));
        }
    } else {
        r.limits.push_back("the namespace's configuration was not read");
    }
    for (Finding& f : c.evidence.findings(c.wireguard, c.end_ns)) {
        // Seen in the packets what the configuration already said: one finding, both evidences.
        auto same = std::find_if(r.findings.begin(), r.findings.end(),
                                 [&](const Finding& s) { return s.kind == f.kind && s.subject == f.subject; });
        if (same == r.findings.end()) {
            r.findings.push_back(std::move(f));
            continue;
        }
        same->count += f.count;
        for (std::string& e : f.evidence) same->evidence.push_back("seen: " + e);
    }
    r.health = c.evidence.health();
    // Every peer of the interface, with WireGuard's own last handshake, also those no packet was seen for.
    for (const WgInterface& w : c.wireguard) {
        if (w.name != iface) continue;
        for (const WgPeer& p : w.peers) {
            auto it = std::find_if(r.health.begin(), r.health.end(), [&](const PeerHealth& h) {
                return h.interface == w.name && h.peer == p.public_key;
            });
            if (it == r.health.end()) {
                PeerHealth h;
                h.interface = w.name;
                h.peer = p.public_key;
                if (p.endpoint) h.endpoint = p.endpoint->to_string();
                r.health.push_back(h);
                it = r.health.end() - 1;
            }
            it->wireguard_last_handshake_unix_s = p.last_handshake_unix_s;
        }
    }
    r.timelines = c.evidence.timelines();
    r.routes_compared = c.evidence.routes_compared();
    r.now_ns = c.evidence.last_ns();
    if (c.evidence.untracked_peers())
        r.limits.push_back(fmt::format("{} endpoints beyond the first 4096 not tracked", c.evidence.untracked_peers()));
    std::cout << (o.json ? diagnose_json(r) : diagnose_text(r)) << std::flush;
    if (!std::cout) {
        spdlog::error("cannot write the report to stdout");
        return exit_code::failure;
    }
    return r.problems() ? exit_code::findings : exit_code::ok;
}

int diagnose_recording(const DiagnoseOptions& o) {
    RecordingReader reader = open_recording(o.recording);
    Collected c;
    std::unique_ptr<ReplaySession> session;
    PipelineSinks sinks;
    sinks.timeline = [&](const PacketTimeline& t) {
        if (!c.first && session->first_netns())
            if (const NetnsConfig* cfg = session->config(*session->first_netns())) c.first = *cfg;
        c.evidence.add(t, session->config(t.netns));
    };
    session = std::make_unique<ReplaySession>(std::move(sinks));
    ReplayOutcome outcome = session->run(reader);
    if (auto ns = session->first_netns()) {
        if (!c.first)
            if (const NetnsConfig* cfg = session->config(*ns)) c.first = *cfg;
        c.wireguard = session->wireguard(*ns);
    }
    DiagnoseReport r;
    r.source = o.recording;
    r.seconds = outcome.end ? outcome.end->seconds : session->event_seconds();
    if (outcome.end) add_limits(r, outcome.end->modules, diagnosed(c.wireguard, o.watch.iface));
    for (ModuleId module : modules_by_name())
        if (uint64_t n = outcome.lost[module]; n && !outcome.end)
            r.limits.push_back(fmt::format("{} {} events lost: findings may miss packets", n, name_of(module)));
    if (!outcome.problem.empty()) r.limits.push_back("the recording ends early: " + outcome.problem);
    int status = finish(o, c, r);
    if (outcome.problem.empty()) return status;
    spdlog::error("{}: {} (reported what came before it)", o.recording, outcome.problem);
    return exit_code::failure;
}

int diagnose_live(const DiagnoseOptions& o) {
    if (o.watch.iface.empty())
        throw FatalError("diagnose needs the WireGuard interface to look at: --iface IF (or -r RECORDING)",
                         ErrorKind::usage);
    Collected c;
    DiagnoseReport r;
    r.source = "live";
    WatchOptions w = o.watch;
    w.json = false; // stdout carries the report only; the watch's own lines go to stderr
    if (!w.duration_s) w.duration_s = 10.0;
    WatchHooks hooks;
    hooks.timeline_sink = [&](const PacketTimeline& t) { c.evidence.add(t, &c.latest); };
    hooks.config_sink = [&](const NetnsConfig& cfg) {
        if (!c.first) c.first = cfg;
        c.latest = cfg;
    };
    hooks.wireguard_sink = [&](const std::vector<WgInterface>& wg) {
        if (!wg.empty() || c.wireguard.empty()) c.wireguard = wg;
    };
    hooks.end_sink = [&](const std::vector<ModuleStatus>& modules, double seconds) {
        add_limits(r, modules, diagnosed(c.wireguard, o.watch.iface));
        r.seconds = seconds;
    };
    r.now_unix_s = 0; // set at the end
    spdlog::info("diagnose: watching {} for {:.0f} s (Ctrl-C ends the watch early and reports)", o.watch.iface,
                 *w.duration_s);
    int status = run_watch(w, hooks);
    if (status != exit_code::ok) return status;
    r.now_unix_s = int64_t(::time(nullptr));
    c.end_ns = clock_ns(CLOCK_MONOTONIC);
    return finish(o, c, r);
}

} // namespace

int run_diagnose(DiagnoseOptions options) {
    return options.recording.empty() ? diagnose_live(options) : diagnose_recording(options);
}

} // namespace wgbpf
