#include "render/diagnose_render.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "diagnose/static_checks.hpp"
#include "render/compare_render.hpp"
#include "render/terminal_text.hpp"

namespace wgbpf {
namespace {

std::string certainty_name(Certainty c) { return c == Certainty::certain ? "certain" : "likely"; }

// WireGuard's own record of the last completed handshake.
std::string wireguard_handshake(const PeerHealth& h, std::optional<int64_t> now_unix_s) {
    if (!h.wireguard_last_handshake_unix_s) return "";
    int64_t at = *h.wireguard_last_handshake_unix_s;
    if (at == 0) return "; WireGuard: no handshake ever completed";
    if (now_unix_s && *now_unix_s >= at) return fmt::format("; WireGuard: last handshake {} s ago", *now_unix_s - at);
    return fmt::format("; WireGuard: last handshake at unix time {}", at);
}

std::string health_line(const PeerHealth& h, uint64_t now_ns, std::optional<int64_t> now_unix_s) {
    std::string who = h.peer.empty() ? "unknown peer" : "peer " + short_key(h.peer);
    std::string line = fmt::format("{} {}{}: initiations {} sent / {} received, responses {} sent / {} received",
                                   h.interface, who, h.endpoint.empty() ? "" : " (" + h.endpoint + ")",
                                   h.initiations_sent, h.initiations_received, h.responses_sent, h.responses_received);
    if (h.cookies_sent || h.cookies_received)
        line += fmt::format(", cookies {} sent / {} received", h.cookies_sent, h.cookies_received);
    if (h.rejected) line += fmt::format(", {} refused by WireGuard", h.rejected);
    line += fmt::format(", data {} sent / {} received", h.data_sent, h.data_received);
    if (h.last_handshake_ns && now_ns >= h.last_handshake_ns)
        line += fmt::format(", last handshake {:.1f} s before the end", (now_ns - h.last_handshake_ns) / 1e9);
    else if (h.initiations_sent || h.initiations_received) line += ", no handshake completed while watching";
    return line + wireguard_handshake(h, now_unix_s);
}

} // namespace

size_t DiagnoseReport::problems() const {
    size_t n = 0;
    for (const Finding& f : findings) n += !f.note;
    return n;
}

std::string diagnose_text(const DiagnoseReport& r) {
    std::string out = fmt::format("wgbpf diagnose: {}{}{}\n", r.interface.empty() ? "(no interface)" : r.interface,
                                  r.netns.empty() ? "" : " in namespace " + r.netns,
                                  r.implementation.empty() ? "" : " (" + r.implementation + ")");
    out += fmt::format("  configuration checks: {}; packets {}: {} ({:.1f} s){}\n", r.checks,
                       r.source == "live" ? "watched" : "replayed from " + r.source, r.timelines, r.seconds,
                       r.routes_compared ? fmt::format(", {} route decisions compared with the configuration's "
                                                       "prediction",
                                                       r.routes_compared)
                                         : "");
    for (const std::string& l : r.limits) out += "  not checked: " + l + "\n";
    if (!r.health.empty()) {
        out += "handshakes and data per peer:\n";
        for (const PeerHealth& h : r.health) out += "  " + health_line(h, r.now_ns, r.now_unix_s) + "\n";
    }
    if (r.findings.empty()) {
        out += "no findings\n";
        return terminal_safe(out);
    }
    out += fmt::format(
        "findings: {}{}\n", r.problems(),
        r.problems() == r.findings.size() ? "" : fmt::format(" (and {} notes)", r.findings.size() - r.problems()));
    size_t n = 0;
    for (const Finding& f : r.findings) {
        out += fmt::format("[{}] {} ({}{}): {}\n", ++n, finding_name(f.kind), certainty_name(f.certainty),
                           f.note ? ", note" : "", f.subject);
        out += "    " + f.summary + "\n";
        for (const std::string& e : f.evidence) out += "    evidence: " + e + "\n";
        out += "    change: " + f.change + "\n";
    }
    return terminal_safe(out);
}

std::string diagnose_json(const DiagnoseReport& r) {
    nlohmann::json findings = nlohmann::json::array(), health = nlohmann::json::array();
    for (const Finding& f : r.findings)
        findings.push_back({{"kind", finding_name(f.kind)},
                            {"certainty", certainty_name(f.certainty)},
                            {"note", f.note},
                            {"subject", f.subject},
                            {"summary", f.summary},
                            {"evidence", f.evidence},
                            {"change", f.change},
                            {"packets", f.count}});
    for (const PeerHealth& h : r.health) {
        nlohmann::json j = {{"interface", h.interface},
                            {"peer", h.peer.empty() ? nlohmann::json(nullptr) : nlohmann::json(h.peer)},
                            {"endpoint", h.endpoint},
                            {"initiations_sent", h.initiations_sent},
                            {"initiations_received", h.initiations_received},
                            {"responses_sent", h.responses_sent},
                            {"responses_received", h.responses_received},
                            {"cookies_sent", h.cookies_sent},
                            {"cookies_received", h.cookies_received},
                            {"refused", h.rejected},
                            {"data_sent", h.data_sent},
                            {"data_received", h.data_received}};
        j["last_handshake_s_before_end"] = h.last_handshake_ns && r.now_ns >= h.last_handshake_ns
                                               ? nlohmann::json((r.now_ns - h.last_handshake_ns) / 1e9)
                                               : nlohmann::json(nullptr);
        j["wireguard_last_handshake_unix_s"] = h.wireguard_last_handshake_unix_s
                                                   ? nlohmann::json(*h.wireguard_last_handshake_unix_s)
                                                   : nlohmann::json(nullptr);
        health.push_back(std::move(j));
    }
    nlohmann::json j = {{"kind", "diagnose"},
                        {"interface", r.interface},
                        {"netns", r.netns},
                        {"implementation", r.implementation},
                        {"source", r.source},
                        {"seconds", r.seconds},
                        {"checks", r.checks},
                        {"packets", r.timelines},
                        {"routes_compared", r.routes_compared},
                        {"limits", r.limits},
                        {"problems", r.problems()},
                        {"findings", findings},
                        {"peers", health}};
    return compare_json_line(j);
}

} // namespace wgbpf
