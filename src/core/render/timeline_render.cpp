#include "render/timeline_render.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <netinet/in.h>

#include "config/netns_config.hpp"
#include "render/netfilter_render.hpp"
#include "render/paint.hpp"

namespace wgbpf {
namespace {

using paint::Paint;

// Step lines: three spaces, the tag in a column of 8, the step. Continuation lines line up with the step.
constexpr const char* kContinuation = "            ";

std::string step_line(const char* tag, const std::string& text, const Paint& paint) {
    return "   " + paint(paint::bold, fmt::format("{:<8}", tag)) + " " + text + "\n";
}

std::string table_text(const RouteDecision& d, uint32_t table) {
    if (std::string builtin = builtin_table_name(table); !builtin.empty()) return builtin;
    if (d.table == table && !d.table_name.empty()) return d.table_name;
    return fmt::format("table {}", table);
}

std::string lookup_text(const RouteDecision& d, const RouteLookupStep& l) {
    std::string where =
        d.fast_path ? table_text(d, l.table) : fmt::format("rule {} {}", l.rule, table_text(d, l.table));
    if (l.result == LookupResult::hit || l.result == LookupResult::suppressed) {
        std::string s = where + ": " + route_text(l.prefix, l.gateway, l.oif);
        if (l.result == LookupResult::suppressed) s += " suppressed" + (l.why.empty() ? "" : " (" + l.why + ")");
        return s;
    }
    return where + ": " + std::string(name_of(l.result));
}

// Lookups in the kernel's order, with the rules it passed over placed by preference (as route lines do).
std::string walk_text(const RouteDecision& d) {
    std::string out;
    auto add = [&](const std::string& part) { out += (out.empty() ? "" : "; ") + part; };
    size_t next_skip = 0;
    auto skipped_before = [&](std::optional<uint32_t> pref) {
        while (next_skip < d.skipped.size() && (!pref || d.skipped[next_skip].rule < *pref)) {
            add(fmt::format("rule {} skipped ({})", d.skipped[next_skip].rule, d.skipped[next_skip].why));
            ++next_skip;
        }
    };
    for (const RouteLookupStep& l : d.lookups) {
        skipped_before(l.rule);
        add(lookup_text(d, l));
    }
    skipped_before(d.rule);

    std::string ending;
    if (d.result == LookupResult::hit && d.route_type == RouteType::local) ending = "local delivery";
    else if (d.result == LookupResult::hit && d.route_type == RouteType::broadcast) ending = "broadcast";
    else if (d.result == LookupResult::hit && d.lookups.empty()) ending = route_text(d.prefix, d.gateway, d.result_oif);
    else if (d.result != LookupResult::hit)
        ending = d.result == LookupResult::none ? "no decision seen" : std::string(name_of(d.result));
    if (!ending.empty()) out += (out.empty() ? "=> " : " => ") + ending;
    if (!d.complete) out += " [walk not seen to its end]";
    return out;
}

// What a chain changed, and the conntrack state when it explains an accept (established, related).
std::string changes_text(const NetfilterStep& s, const Paint& paint) {
    std::string out;
    if (s.mark_before != s.mark_after)
        out += ", " + paint(paint::yellow, fmt::format("mark {:#x} -> {:#x}", s.mark_before, s.mark_after));
    if (std::string ct = ct_mark_text(s, paint); !ct.empty()) out += ", " + ct;
    bool before_ct = s.runs_before_conntrack() && !s.ct_tracked_before(); // the state after is conntrack's
    if (!before_ct && !s.ct_state.empty() && s.ct_state != "none" && s.ct_state != "new") out += ", ct " + s.ct_state;
    return out;
}

std::string short_key(const std::string& key) { return key.size() > 6 ? key.substr(0, 6) + "..." : key; }

std::string wireguard_text(const WireguardStep& w, const PacketTimeline& t) {
    std::string action(name_of(w.action));
    for (char& c : action)
        if (c == '_') c = ' ';
    if (dropped_before_decryption(w, t)) action = "data (dropped before decryption)";
    bool out = w.direction == WgDirection::out;
    if (!w.dropped.empty()) // WireGuard's own verdict: the kernel's, exact, or a user-space one's, inferred
        return fmt::format("{} dropped{}: {}", w.interface.empty() ? std::string("WireGuard") : w.interface,
                           w.inferred ? " (inferred)" : "", w.dropped);
    std::string s =
        fmt::format("{} {} peer {}", action, out ? "->" : "<-", w.peer.empty() ? "(unknown)" : short_key(w.peer));
    if (!w.endpoint.empty()) s += " endpoint " + w.endpoint;
    if (w.sender_index) s += fmt::format(", sender {:#x}", *w.sender_index);
    if (w.receiver_index) s += fmt::format(", receiver {:#x}", *w.receiver_index);
    if (w.counter) s += fmt::format(", counter {}", *w.counter);
    // Arrows follow the data: into the outer packet on the way out, out of it on the way in.
    if (t.outer_of) {
        if (w.action == WgAction::encrypt) s += fmt::format("  <= #{}", *t.outer_of);
        if (w.action == WgAction::decrypt) s += fmt::format("  => #{}", *t.outer_of);
    } else {
        if (w.action == WgAction::encrypt && t.encapsulated_in) s += fmt::format("  => #{}", *t.encapsulated_in);
        if (w.action == WgAction::decrypt && t.decapsulated_from) s += fmt::format("  <= #{}", *t.decapsulated_from);
    }
    if (w.linked_by == WgLinkedBy::skb) s += " (same skb)";
    if (w.linked_by != WgLinkedBy::none && (w.tunnel_mtu || w.device_mtu)) {
        s += fmt::format(", inner {}", w.inner_len);
        if (w.tunnel_mtu) s += fmt::format(" of mtu {}", w.tunnel_mtu);
        // Numbers only: a longer buffer may be several packets (GSO, GRO), not one too big (diagnose tells).
        if (w.outer_len) s += fmt::format(", outer {}", w.outer_len);
        else s += ", outer (fragmented: whole length not seen)";
        if (w.device_mtu) s += fmt::format(" of mtu {} ({})", w.device_mtu, w.device);
    }
    if (w.verdict == "accepted") s += ", accepted";
    return s;
}

std::string outcome_text(const PacketTimeline& t) {
    if (t.outcome == Outcome::encapsulated && t.encapsulated_in)
        return fmt::format("encapsulated in #{}", *t.encapsulated_in);
    if (t.outcome == Outcome::decapsulated && t.outer_of) return fmt::format("decapsulated into #{}", *t.outer_of);
    if (t.outcome == Outcome::not_sent) return t.outcome_inferred ? "not sent (inferred)" : "not sent";
    if (t.outcome == Outcome::reassembled && t.reassembled_into)
        return fmt::format("reassembled into #{}", *t.reassembled_into);
    if (t.outcome == Outcome::dropped && t.outcome_inferred) return "dropped inside WireGuard (inferred)";
    return std::string(name_of(t.outcome));
}

const char* outcome_colour(Outcome outcome) {
    if (outcome == Outcome::dropped || outcome == Outcome::not_sent) return paint::red;
    if (outcome == Outcome::unknown) return paint::yellow;
    return paint::green;
}

struct StepText {
    const PacketTimeline& t;
    const Paint& paint;

    std::string operator()(const RouteDecision& d) const {
        std::string out = step_line("route", route_summary_text(d), paint);
        for (const std::string& note : d.notes) out += kContinuation + paint(paint::dim, "note: " + note) + "\n";
        return out;
    }
    std::string operator()(const NetfilterStep& s) const {
        std::string text = fmt::format("{:<12}{}: {}", hook_name(s.hook), chain_text(s),
                                       paint(verdict_colour(s.verdict), std::string(name_of(s.verdict)))) +
                           changes_text(s, paint);
        if (s.trace_id) text += ", " + decider_text(s);
        std::string out = step_line("nf", text, paint);
        for (const std::string& rule : s.rules_that_set) out += kContinuation + ("set by: " + rule) + "\n";
        for (const std::string& line : traced_rule_lines(s)) out += kContinuation + line + "\n";
        for (const std::string& note : s.notes) out += kContinuation + paint(paint::dim, "note: " + note) + "\n";
        return out;
    }
    std::string operator()(const DropStep& d) const {
        std::string text = paint(paint::red, d.reason.empty() ? "drop" : d.reason);
        if (!d.location.empty()) text += " at " + d.location;
        if (!d.chain.empty()) text += " (" + d.chain + ")";
        if (!d.explanation.empty()) text += ": " + d.explanation;
        return step_line("drop", text, paint);
    }
    std::string operator()(const RpFilterStep& r) const {
        const char* colour = r.result == RpFilterResult::pass   ? paint::green
                             : r.result == RpFilterResult::fail ? paint::red
                                                                : paint::yellow;
        std::string out = step_line(
            "rp_filter",
            fmt::format("{}: {}: {}", name_of(r.mode), paint(colour, std::string(name_of(r.result))), r.explanation),
            paint);
        // A failure is explained by the walk that found the wrong way back.
        if (r.result == RpFilterResult::fail)
            out += kContinuation + paint(paint::dim, "reverse lookup: " + walk_text(r.reverse)) + "\n";
        return out;
    }
    std::string operator()(const WireguardStep& w) const { return step_line("wg", wireguard_text(w, t), paint); }
    std::string operator()(const DeviceStep& d) const {
        return step_line("dev", std::string(name_of(d.direction)) + " " + d.dev, paint);
    }
};

// Each step as its own kind's object (route, netfilter and drop as --steps prints them), keys in byte order.
struct StepJson {
    JsonWriter& w;
    const LinkName& link_name;
    const PacketTimeline& t;

    void operator()(const RouteDecision& d) const { write_route_json(w, d); }
    void operator()(const NetfilterStep& s) const { write_netfilter_json(w, s, link_name); }
    void operator()(const DropStep& d) const { write_drop_json(w, d, link_name); }
    void operator()(const RpFilterStep& r) const {
        JsonObject j(w);
        j.str("explanation", r.explanation);
        j.name("iif", r.iif);
        j.str("kind", "rp_filter");
        j.uint("mark", r.mark);
        j.str("mode", name_of(r.mode));
        j.str("result", name_of(r.result));
        write_route_json(j.key("reverse"), r.reverse);
        j.name("reverse_oif", r.reverse_oif);
        j.boolean("src_valid_mark", r.src_valid_mark);
        j.uint("t_ns", r.t_ns);
        j.end();
    }
    void operator()(const WireguardStep& wg) const {
        JsonObject j(w);
        j.str("action", name_of(wg.action));
        j.boolean("before_decryption", dropped_before_decryption(wg, t));
        j.opt("counter", wg.counter);
        j.str("direction", name_of(wg.direction));
        j.name("dropped", wg.dropped);
        j.name("endpoint", wg.endpoint);
        j.boolean("inferred", wg.inferred);
        j.name("interface", wg.interface);
        j.str("kind", "wireguard");
        j.name("linked_by", name_of(wg.linked_by));
        if (wg.tunnel_mtu || wg.device_mtu) { // linked, with what the configuration knows of the MTUs
            JsonObject m(j.key("mtu"));
            m.name("device", wg.device);
            m.uint("device_mtu", wg.device_mtu);
            m.uint("inner_len", wg.inner_len);
            m.uint("outer_len", wg.outer_len);
            m.uint("tunnel_mtu", wg.tunnel_mtu);
            m.end();
        }
        j.name("peer", wg.peer);
        j.opt("receiver_index", wg.receiver_index);
        j.opt("sender_index", wg.sender_index);
        j.uint("t_ns", wg.t_ns);
        j.name("verdict", wg.verdict);
        j.end();
    }
    void operator()(const DeviceStep& d) const {
        JsonObject j(w);
        j.str("dev", d.dev);
        j.str("direction", name_of(d.direction));
        j.str("kind", "device");
        j.uint("t_ns", d.t_ns);
        j.end();
    }
};

} // namespace

std::string route_summary_text(const RouteDecision& d) {
    std::string head(d.reroute ? "re-route" : direction_name(d.direction));
    if (!d.iif.empty() && d.iif != "lo") head += " iif " + d.iif;
    if (d.mark) head += fmt::format(" mark {:#x}", d.mark);
    return head + ": " + walk_text(d);
}

std::string render_timeline_text(const PacketTimeline& t, const TextStyle& style) {
    Paint paint{style.colour};
    // A record of several packets (a WireGuard queue dropped whole) has no packet of its own.
    std::string what =
        !t.pkt.is_ip && t.packet_id == 0 ? std::string("packets queued in WireGuard") : packet_text(t.pkt);
    std::string head = paint(paint::bold, fmt::format("#{}", t.id)) + " " + what;
    if (t.outer_of) head += fmt::format(" (outer of #{})", *t.outer_of);
    if (t.decapsulated_from) head += fmt::format(" (decapsulated from #{})", *t.decapsulated_from);
    head += fmt::format("  netns {}", t.netns);
    if (std::string name = style.netns_name ? style.netns_name(t.netns) : std::string(); !name.empty())
        head += " (" + name + ")";
    if (t.mark) head += fmt::format("  mark {:#x}", t.mark);
    head += "  => " + paint(outcome_colour(t.outcome), outcome_text(t));
    if (!t.steps.empty()) head += "  " + paint(paint::dim, "at " + event_clock_text(step_time(t.steps.front()), style));
    std::string out = head + "\n";

    StepText text{t, paint};
    for (const TimelineStep& s : t.steps) out += std::visit(text, s);
    for (const std::string& gap : t.gaps) out += step_line("gap", paint(paint::yellow, gap), paint);
    for (const std::string& note : t.notes) out += step_line("note", paint(paint::dim, note), paint);
    return out;
}

void write_timeline_json(JsonWriter& w, const PacketTimeline& t, const LinkName& link_name) {
    const PacketInfo& p = t.pkt;
    bool icmp = p.is_ip && p.has_l4 && (p.proto == IPPROTO_ICMP || p.proto == IPPROTO_ICMPV6);
    bool ports = p.is_ip && p.has_l4 && !icmp;

    JsonObject j(w); // keys in byte order
    j.opt("decapsulated_from", t.decapsulated_from);
    if (ports) j.uint("dport", p.dport);
    if (p.is_ip) j.str("dst", p.dst.to_string());
    else j.null("dst");
    j.opt("encapsulated_in", t.encapsulated_in);
    if (p.is_ip) j.str("family", family_name(p.family));
    else j.null("family");
    if (p.is_ip && p.is_fragment()) j.str("fragment", p.later_fragment ? "later" : "first");
    j.strings("gaps", t.gaps);
    if (icmp) {
        j.uint("icmp_code", p.dport & 0xff);
        if (uint32_t mtu = p.icmp_mtu()) j.uint("icmp_mtu", mtu);
        j.uint("icmp_type", p.dport >> 8);
    }
    j.uint("id", t.id);
    j.str("kind", "timeline");
    j.uint("len", p.len);
    j.uint("mark", t.mark);
    j.uint("netns", t.netns);
    j.strings("notes", t.notes);
    j.str("outcome", name_of(t.outcome));
    j.boolean("outcome_inferred", t.outcome_inferred);
    j.opt("outer_of", t.outer_of);
    if (t.packet_id) j.str("packet_id", fmt::format("{:016x}", t.packet_id));
    else j.null("packet_id");
    if (p.is_ip) j.str("proto", proto_name(p.proto, p.family));
    else j.null("proto");
    j.opt("reassembled_into", t.reassembled_into);
    if (ports) j.uint("sport", p.sport);
    if (p.is_ip) j.str("src", p.src.to_string());
    else j.null("src");
    j.key("steps").StartArray();
    StepJson step_json{w, link_name, t};
    for (const TimelineStep& s : t.steps) std::visit(step_json, s);
    w.EndArray();
    if (t.steps.empty()) j.null("t_ns");
    else j.uint("t_ns", step_time(t.steps.front()));
    j.end();
}

} // namespace wgbpf
