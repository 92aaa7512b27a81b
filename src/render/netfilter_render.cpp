#include "wgbpf/render/netfilter_render.hpp"

#include <fmt/format.h>

#include "wgbpf/render/paint.hpp"

namespace wgbpf {
namespace {

using paint::Paint;
constexpr const char* kBold = paint::bold;
constexpr const char* kDim = paint::dim;
constexpr const char* kGreen = paint::green;
constexpr const char* kYellow = paint::yellow;
constexpr const char* kRed = paint::red;

// The tag column ("nf", "drop") is padded before painting so colour does not shift the columns.
std::string line_start(uint64_t t_ns, const char* tag, const TextStyle& style) {
    Paint paint{style.colour};
    return fmt::format("{}  {}", paint(kDim, event_clock_text(t_ns, style)), paint(kBold, fmt::format("{:<7}", tag)));
}


// "mark 0x0 -> 0xca6c" when it changed, "mark 0xca6c" when set but unchanged, nothing for an unset mark.
std::string mark_text(const char* what, uint32_t before, uint32_t after, const Paint& paint) {
    if (before != after) return "  " + paint(kYellow, fmt::format("{} {:#x} -> {:#x}", what, before, after));
    if (before != 0) return fmt::format("  {} {:#x}", what, before);
    return {};
}

nlohmann::json name_json(const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); }

} // namespace

std::string chain_text(const NetfilterStep& s) {
    if (s.family.empty()) return "(not an nftables chain)";
    std::string out = fmt::format("{} {} {} (prio {})", s.family, s.table, s.chain, s.priority);
    if (!s.shared_with.empty()) {
        std::string others;
        for (const std::string& o : s.shared_with) others += (others.empty() ? "" : ", ") + o;
        out += " (shared with " + others + ")";
    }
    return out;
}

std::string trace_id_text(uint32_t id) { return fmt::format("{:08x}", id); }

std::string decider_text(const NetfilterStep& s) {
    if (!s.trace_id) return {};
    std::string who = s.rule_handle ? fmt::format("rule #{}", *s.rule_handle) : std::string("policy");
    if (s.rule_handle && !s.rule.empty()) who += " \"" + s.rule + "\"";
    return fmt::format("{} (trace {})", who, trace_id_text(*s.trace_id));
}

std::vector<std::string> traced_rule_lines(const NetfilterStep& s) {
    std::vector<std::string> lines;
    for (const TracedRule& r : s.traced_rules) {
        if (s.rule_handle && r.handle == *s.rule_handle && r.chain.empty() && &r == &s.traced_rules.back())
            continue; // the decider, already on the step's line
        std::string line = "traced: ";
        if (!r.chain.empty()) line += r.chain + ": ";
        line += fmt::format("rule #{}", r.handle);
        if (!r.rule.empty()) line += " \"" + r.rule + "\"";
        lines.push_back(line + " -> " + r.verdict);
    }
    return lines;
}

const char* verdict_colour(const std::string& verdict) {
    if (verdict == "accept") return paint::green;
    if (verdict == "drop") return paint::red;
    if (verdict == "unknown") return paint::dim;
    return paint::yellow;
}

std::string render_netfilter_text(const NetfilterStep& s, const TextStyle& style) {
    Paint paint{style.colour};
    std::string out = fmt::format("{}{:<13}{}  {}", line_start(s.t_ns, "nf", style), hook_name(s.hook), chain_text(s),
                                  paint(verdict_colour(s.verdict), s.verdict));
    out += mark_text("mark", s.mark_before, s.mark_after, paint);
    out += mark_text("ct mark", s.ct_mark_before, s.ct_mark_after, paint);
    if (!s.ct_state.empty() && s.ct_state != "none") out += "  ct state " + s.ct_state;
    if (s.trace_id) out += "  " + decider_text(s);
    out += "  [" + packet_text(s.pkt) + "]\n";
    for (const std::string& rule : s.rules_that_set) out += "    set by: " + rule + "\n";
    for (const std::string& line : traced_rule_lines(s)) out += "    " + line + "\n";
    for (const std::string& note : s.notes) out += "    " + paint(kDim, "note: " + note) + "\n";
    return out;
}

nlohmann::json netfilter_to_json(const NetfilterStep& s, const LinkName& link_name) {
    nlohmann::json j;
    j["kind"] = "netfilter";
    j["hook"] = std::string(hook_name(s.hook));
    j["family"] = name_json(s.family);
    j["table"] = name_json(s.table);
    j["chain"] = name_json(s.chain);
    j["shared_with"] = s.shared_with;
    j["priority"] = s.family.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.priority);
    j["verdict"] = s.verdict;
    j["mark_before"] = s.mark_before;
    j["mark_after"] = s.mark_after;
    j["ct_mark_before"] = s.ct_mark_before;
    j["ct_mark_after"] = s.ct_mark_after;
    j["ct_state"] = s.ct_state;
    j["exact"] = s.exact;
    j["rules_that_set"] = s.rules_that_set;
    if (!s.notes.empty()) j["notes"] = s.notes;
    j["trace_id"] = s.trace_id ? nlohmann::json(trace_id_text(*s.trace_id)) : nlohmann::json(nullptr);
    j["rule_handle"] = s.rule_handle ? nlohmann::json(*s.rule_handle) : nlohmann::json(nullptr);
    j["rule"] = s.rule;
    nlohmann::json traced = nlohmann::json::array();
    for (const TracedRule& r : s.traced_rules)
        traced.push_back({{"handle", r.handle}, {"rule", r.rule}, {"verdict", r.verdict}, {"chain", name_json(r.chain)}});
    j["traced_rules"] = traced;
    j["t_ns"] = s.t_ns;
    j["netns"] = s.netns;
    add_packet_json(j, s.pkt, link_name);
    return j;
}

std::string render_drop_text(const DropStep& d, const TextStyle& style) {
    Paint paint{style.colour};
    std::string out = line_start(d.t_ns, "drop", style) + paint(kRed, d.reason.empty() ? "drop" : d.reason);
    if (!d.location.empty()) out += " at " + d.location;
    if (!d.chain.empty()) out += " (" + d.chain + ")";
    return out + "  [" + packet_text(d.pkt) + "]\n";
}

nlohmann::json drop_to_json(const DropStep& d, const LinkName& link_name) {
    nlohmann::json j;
    j["kind"] = "drop";
    j["reason"] = name_json(d.reason);
    j["location"] = name_json(d.location);
    j["chain"] = name_json(d.chain);
    j["t_ns"] = d.t_ns;
    j["netns"] = d.netns;
    add_packet_json(j, d.pkt, link_name);
    return j;
}

} // namespace wgbpf
