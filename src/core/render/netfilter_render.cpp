#include "render/netfilter_render.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "render/paint.hpp"

namespace wgbpf {
namespace {

using paint::Paint;

// The tag column ("nf", "drop") is padded before painting so colour does not shift the columns.
std::string line_start(uint64_t t_ns, const char* tag, const TextStyle& style) {
    Paint paint{style.colour};
    return fmt::format("{}  {}", paint(paint::dim, event_clock_text(t_ns, style)),
                       paint(paint::bold, fmt::format("{:<7}", tag)));
}

// "mark 0x0 -> 0xca6c" when it changed, "mark 0xca6c" when set but unchanged, nothing for an unset mark.
std::string mark_text(const char* what, uint32_t before, uint32_t after, const Paint& paint) {
    if (before != after) return "  " + paint(paint::yellow, fmt::format("{} {:#x} -> {:#x}", what, before, after));
    if (before != 0) return fmt::format("  {} {:#x}", what, before);
    return {};
}

} // namespace

std::string ct_mark_text(const NetfilterStep& s, const Paint& paint) {
    if (s.runs_before_conntrack() && !s.ct_tracked_before()) return "ct not yet tracked";
    if (s.ct_mark_changed())
        return paint(paint::yellow, fmt::format("ct mark {:#x} -> {:#x}", s.ct_mark_before, s.ct_mark_after));
    if (!s.ct_tracked_before() && s.ct_tracked_after() && s.ct_mark_after != 0)
        return fmt::format("ct mark {:#x} (found by conntrack within this step)", s.ct_mark_after);
    return {};
}

std::string chain_text(const NetfilterStep& s) {
    std::string nat;
    if (s.conntrack_nat)
        nat = s.conntrack_nat->empty() ? std::string("conntrack NAT (an established connection)")
                                       : fmt::format("conntrack NAT ({} not run: an established connection)",
                                                     fmt::join(*s.conntrack_nat, ", "));
    if (s.family.empty()) return nat.empty() ? std::string("(not an nftables chain)") : nat;
    std::string out = fmt::format("{} {} {} (prio {})", s.family, s.table, s.chain, s.priority);
    if (!s.shared_with.empty()) {
        std::string others;
        for (const std::string& o : s.shared_with) others += (others.empty() ? "" : ", ") + o;
        out += " (shared with " + others + ")";
    }
    if (!nat.empty()) out += " and " + nat;
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

const char* verdict_colour(NfVerdict verdict) {
    if (verdict == NfVerdict::accept) return paint::green;
    if (verdict == NfVerdict::drop) return paint::red;
    if (verdict == NfVerdict::unknown) return paint::dim;
    return paint::yellow;
}

std::string render_netfilter_text(const NetfilterStep& s, const TextStyle& style) {
    Paint paint{style.colour};
    std::string out = fmt::format("{}{:<13}{}  {}", line_start(s.t_ns, "nf", style), hook_name(s.hook), chain_text(s),
                                  paint(verdict_colour(s.verdict), std::string(name_of(s.verdict))));
    out += mark_text("mark", s.mark_before, s.mark_after, paint);
    if (std::string ct = ct_mark_text(s, paint); !ct.empty()) out += "  " + ct;
    else if (s.ct_tracked_before() && s.ct_mark_before != 0) out += fmt::format("  ct mark {:#x}", s.ct_mark_before);
    bool before_ct =
        s.runs_before_conntrack() && !s.ct_tracked_before(); // the state after is conntrack's, not the chain's
    if (!before_ct && !s.ct_state.empty() && s.ct_state != "none") out += "  ct state " + s.ct_state;
    if (s.trace_id) out += "  " + decider_text(s);
    out += "  [" + packet_text(s.pkt) + "]\n";
    for (const std::string& rule : s.rules_that_set) out += "    set by: " + rule + "\n";
    for (const std::string& line : traced_rule_lines(s)) out += "    " + line + "\n";
    for (const std::string& note : s.notes) out += "    " + paint(paint::dim, "note: " + note) + "\n";
    return out;
}

void write_netfilter_json(JsonWriter& w, const NetfilterStep& s, const LinkName& link_name) {
    PacketJsonFields packet(s.pkt, link_name);
    JsonObject j(w); // keys in byte order; the packet's go between them
    j.merge(packet.fields());
    j.name("chain", s.chain);
    if (s.conntrack_nat) j.strings("conntrack_nat", *s.conntrack_nat);
    else j.null("conntrack_nat");
    if (s.ct_tracked_after()) j.uint("ct_mark_after", s.ct_mark_after);
    else j.null("ct_mark_after");
    if (s.ct_tracked_before()) j.uint("ct_mark_before", s.ct_mark_before);
    else j.null("ct_mark_before");
    j.str("ct_state", s.ct_state);
    if (s.ct_state_before.empty()) j.null("ct_state_before");
    else j.str("ct_state_before", s.ct_state_before);
    j.boolean("exact", s.exact);
    j.name("family", s.family);
    j.str("hook", hook_name(s.hook));
    j.str("kind", "netfilter");
    j.uint("mark_after", s.mark_after);
    j.uint("mark_before", s.mark_before);
    j.uint("netns", s.netns);
    if (!s.notes.empty()) j.strings("notes", s.notes);
    if (s.family.empty()) j.null("priority");
    else j.sint("priority", s.priority);
    j.str("rule", s.rule);
    j.opt("rule_handle", s.rule_handle);
    j.strings("rules_that_set", s.rules_that_set);
    j.strings("shared_with", s.shared_with);
    j.uint("t_ns", s.t_ns);
    j.name("table", s.table);
    if (s.trace_id) j.str("trace_id", trace_id_text(*s.trace_id));
    else j.null("trace_id");
    JsonWriter& traced = j.key("traced_rules");
    traced.StartArray();
    for (const TracedRule& r : s.traced_rules) {
        JsonObject t(traced);
        t.name("chain", r.chain);
        t.uint("handle", r.handle);
        t.str("rule", r.rule);
        t.str("verdict", r.verdict);
        t.end();
    }
    traced.EndArray();
    j.str("verdict", name_of(s.verdict));
    j.end();
}

std::string render_drop_text(const DropStep& d, const TextStyle& style) {
    Paint paint{style.colour};
    std::string out = line_start(d.t_ns, "drop", style) + paint(paint::red, d.reason.empty() ? "drop" : d.reason);
    if (!d.location.empty()) out += " at " + d.location;
    if (!d.chain.empty()) out += " (" + d.chain + ")";
    if (!d.explanation.empty()) out += ": " + d.explanation;
    return out + "  [" + packet_text(d.pkt) + "]\n";
}

void write_drop_json(JsonWriter& w, const DropStep& d, const LinkName& link_name) {
    PacketJsonFields packet(d.pkt, link_name);
    JsonObject j(w); // keys in byte order; the packet's go between them
    j.merge(packet.fields());
    j.name("chain", d.chain);
    if (!d.explanation.empty()) j.str("explanation", d.explanation);
    j.str("kind", "drop");
    j.name("location", d.location);
    j.uint("netns", d.netns);
    j.name("reason", d.reason);
    j.uint("t_ns", d.t_ns);
    j.end();
}

} // namespace wgbpf
