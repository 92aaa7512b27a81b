#include "render/top_render.hpp"

#include <fmt/format.h>

#include <cmath>

#include "render/packet_render.hpp"
#include "render/paint.hpp"
#include "render/terminal_text.hpp"

namespace wgbpf {

namespace {

using paint::Paint;

std::string short_key(const std::string& key) { return key.size() > 8 ? key.substr(0, 8) + ".." : key; }

struct HopText {
    std::string operator()(const RouteHop& r) const {
        std::string out(r.reroute ? "re-route" : direction_name(r.direction));
        if (r.rule) out += fmt::format(" rule {}", *r.rule);
        if (!r.table_name.empty()) out += " table " + r.table_name;
        else if (r.table) out += fmt::format(" table {}", *r.table);
        if (r.result == LookupResult::hit) {
            out += " > " + (r.oif.empty() ? std::string("(device not known)") : r.oif);
            if (r.route_type && *r.route_type != RouteType::unicast)
                out += " (" + std::string(name_of(*r.route_type)) + ")";
            if (r.gateway) out += " (via " + r.gateway->to_string() + ")";
        } else if (r.result == LookupResult::none) {
            out += ": decision not seen";
        } else {
            out += ": " + std::string(name_of(r.result));
        }
        if (!r.complete) out += " [walk not seen to its end]";
        return out;
    }
    std::string operator()(const RouteNotSeenHop&) const { return "route not seen (cached, or events lost)"; }
    std::string operator()(const ChainHop& c) const {
        std::string out = fmt::format("{} {}: {}", hook_name(c.hook), c.chain, name_of(c.verdict));
        if (c.mark_set) out += fmt::format(" mark={:#x}", *c.mark_set);
        if (c.ct_mark_set) out += fmt::format(" ct mark={:#x}", *c.ct_mark_set);
        return out;
    }
    std::string operator()(const NatHop& n) const { return n.source ? "src rewritten" : "dst rewritten"; }
    std::string operator()(const RpFilterHop& r) const { return "rp_filter " + std::string(name_of(r.result)); }
    std::string operator()(const WireguardHop& w) const {
        std::string out = w.before_decryption ? w.interface + " data (dropped before decryption)"
                                              : fmt::format("{} {}", w.interface, name_of(w.action));
        if (!w.peer.empty()) out += " peer " + short_key(w.peer);
        if (!w.verdict.empty()) out += " " + w.verdict;
        if (w.inferred) out += " (inferred)";
        return out;
    }
    std::string operator()(const DeviceHop& d) const {
        return d.dev + (d.direction == DeviceDirection::ingress ? " in" : " out");
    }
    std::string operator()(const DropHop& d) const {
        std::string out = "drop";
        if (!d.reason.empty()) out += " " + d.reason;
        if (!d.chain.empty()) out += " in " + d.chain;
        return out;
    }
};

// What picked the packets counted, in words.
std::string narrowed_text(const TopTextOptions& o) {
    std::string out;
    if (!o.expression.empty())
        out = "the packets '" + terminal_field(o.expression) + "' picks (and their inner or outer packets)";
    if (o.sample_every > 1) out += (out.empty() ? "" : ", in ") + fmt::format("1 flow in {} (sampled)", o.sample_every);
    return out;
}

bool several_namespaces(const TopSnapshot& s) {
    for (const PathRow& r : s.rows)
        if (r.path->netns != s.rows.front().path->netns) return true;
    return false;
}

std::string outcome_text(const PathSignature& p) {
    std::string out(p.outcome == Outcome::unknown ? "outcome not seen" : name_of(p.outcome));
    if (p.outcome_inferred) out += " (inferred)";
    return out;
}

std::string si(double v) {
    if (v >= 1e9) return fmt::format("{:.1f}G", v / 1e9);
    if (v >= 1e6) return fmt::format("{:.1f}M", v / 1e6);
    if (v >= 1e4) return fmt::format("{:.1f}k", v / 1e3);
    return fmt::format("{:.0f}", v);
}

std::string ago_text(uint64_t now_ns, uint64_t seen_ns) {
    if (!seen_ns) return "-";
    const double s = now_ns > seen_ns ? double(now_ns - seen_ns) / 1e9 : 0;
    return s < 60 ? fmt::format("{:.0f}s", s) : fmt::format("{:.0f}m", s / 60);
}

// D: dropped, R: rp_filter failed, ?: the story had gaps, ~: outcome inferred.
std::string flags_of(const PathSignature& p) {
    std::string f;
    if (p.dropped()) f += 'D';
    if (p.rp_filter_failed()) f += 'R';
    if (p.incomplete) f += '?';
    if (p.outcome_inferred) f += '~';
    return f.empty() ? "-" : f;
}

size_t shown(const TopSnapshot& s, const TopTextOptions& o) {
    return o.rows && o.rows < s.rows.size() ? o.rows : s.rows.size();
}

struct HopJson {
    JsonObject& o;
    void operator()(const RouteHop& r) const {
        o.boolean("complete", r.complete);
        o.str("direction", direction_name(r.direction));
        if (r.gateway) o.str("gateway", r.gateway->to_string());
        else o.null("gateway");
        o.str("kind", "route");
        o.name("oif", r.oif);
        o.boolean("reroute", r.reroute);
        o.name("result", name_of(r.result));
        o.name("route_type", r.route_type ? name_of(*r.route_type) : std::string_view());
        o.opt("rule", r.rule);
        o.opt("table", r.table);
        o.name("table_name", r.table_name);
    }
    void operator()(const RouteNotSeenHop&) const { o.str("kind", "route_not_seen"); }
    void operator()(const ChainHop& c) const {
        o.str("chain", c.chain);
        o.opt("ct_mark_set", c.ct_mark_set);
        o.str("hook", hook_name(c.hook));
        o.str("kind", "netfilter");
        o.opt("mark_set", c.mark_set);
        o.str("verdict", name_of(c.verdict));
    }
    void operator()(const NatHop& n) const {
        o.str("kind", "nat");
        o.str("rewritten", n.source ? "src" : "dst");
    }
    void operator()(const RpFilterHop& r) const {
        o.str("kind", "rp_filter");
        o.str("result", name_of(r.result));
    }
    void operator()(const WireguardHop& w) const {
        o.str("action", name_of(w.action));
        o.boolean("before_decryption", w.before_decryption);
        o.str("direction", name_of(w.direction));
        o.boolean("inferred", w.inferred);
        o.str("interface", w.interface);
        o.str("kind", "wireguard");
        o.name("peer", w.peer);
        o.name("verdict", w.verdict);
    }
    void operator()(const DeviceHop& d) const {
        o.str("dev", d.dev);
        o.str("direction", name_of(d.direction));
        o.str("kind", "device");
    }
    void operator()(const DropHop& d) const {
        o.name("chain", d.chain);
        o.str("kind", "drop");
        o.name("reason", d.reason);
    }
};

void write_rate(JsonObject& o, const char* key, double v) { o.key(key).Double(std::round(v * 10) / 10); }

} // namespace

std::string path_text(const PathSignature& p) {
    std::string out;
    for (const PathHop& h : p.hops) out += std::visit(HopText{}, h) + " | ";
    return out + outcome_text(p);
}

std::string render_top_text(const TopSnapshot& s, const TopTextOptions& o, const TextStyle& style) {
    Paint paint{style.colour};
    std::string out =
        paint(paint::bold, fmt::format("wgbpf top: {:.0f} s, {} packet{} ({}B) on {} path{}{}", o.elapsed_s, s.packets,
                                       s.packets == 1 ? "" : "s", si(double(s.bytes)), s.paths, s.paths == 1 ? "" : "s",
                                       s.full ? " and other paths" : "")) +
        "\n";
    if (!o.expression.empty() || o.sample_every > 1)
        out += paint(paint::yellow, "counting only " + narrowed_text(o)) + "\n";
    if (o.lost_events || s.incomplete_packets)
        out += paint(paint::yellow, fmt::format("{} event{} lost; {} packet{} counted on paths with gaps (marked ?)",
                                                o.lost_events, o.lost_events == 1 ? "" : "s", s.incomplete_packets,
                                                s.incomplete_packets == 1 ? "" : "s")) +
               "\n";
    const bool several = several_namespaces(s);
    out += fmt::format("{:>9} {:>10} {:>8} {:>5} {:<5} {}\n", "PKT/S", "PACKETS", "BYTES", "LAST", "FLAGS", "PATH");
    for (size_t i = 0; i < shown(s, o); ++i) {
        const PathRow& r = s.rows[i];
        const PathSignature& p = *r.path;
        std::string line =
            fmt::format("{:>9} {:>10} {:>8} {:>5} {:<5} {}", si(r.counts.rate_pps), r.counts.packets,
                        si(double(r.counts.bytes)), ago_text(s.now_ns, r.counts.last_seen_ns), flags_of(p),
                        (several ? fmt::format("[netns {}] ", p.netns) : std::string()) + terminal_field(path_text(p)));
        out += (p.dropped() || p.rp_filter_failed() ? paint(paint::red, line)
                : p.incomplete                      ? paint(paint::dim, line)
                                                    : line) +
               "\n";
        if (o.examples)
            out += fmt::format("{:>40}e.g. #{} {}\n", "", r.counts.example_id,
                               terminal_field(packet_text(r.counts.example)));
    }
    if (shown(s, o) < s.rows.size())
        out += paint(paint::dim, fmt::format("... {} more paths (--rows)", s.rows.size() - shown(s, o))) + "\n";
    if (s.other.packets)
        out += fmt::format("{:>9} {:>10} {:>8} {:>5} {:<5} {}\n", si(s.other.rate_pps), s.other.packets,
                           si(double(s.other.bytes)), ago_text(s.now_ns, s.other.last_seen_ns), "+",
                           fmt::format("other paths (the table is full: {} paths)", s.paths));
    return out;
}

void write_top_json(JsonWriter& w, const TopSnapshot& s, const TopTextOptions& o) {
    JsonObject top(w);
    top.uint("bytes", s.bytes);
    top.key("elapsed_s").Double(std::round(o.elapsed_s * 1000) / 1000);
    top.name("expression", o.expression);
    top.uint("incomplete_packets", s.incomplete_packets);
    top.key("interval_s").Double(std::round(s.interval_s * 1000) / 1000);
    top.str("kind", "top");
    top.uint("lost_events", o.lost_events);
    top.uint("max_paths", s.max_paths);
    {
        JsonObject other(top.key("other_paths"));
        other.uint("bytes", s.other.bytes);
        other.uint("packets", s.other.packets);
        write_rate(other, "rate_pps", s.other.rate_pps);
        other.end();
    }
    top.uint("packets", s.packets);
    top.key("paths").StartArray();
    for (size_t i = 0; i < shown(s, o); ++i) {
        const PathRow& r = s.rows[i];
        const PathSignature& p = *r.path;
        JsonObject row(w);
        row.uint("bytes", r.counts.bytes);
        row.boolean("dropped", p.dropped());
        if (o.examples) {
            JsonObject ex(row.key("example"));
            PacketJsonFields fields(r.counts.example, {});
            ex.merge(fields.fields());
            ex.uint("timeline", r.counts.example_id);
            ex.end();
        }
        row.key("hops").StartArray();
        for (const PathHop& h : p.hops) {
            JsonObject hop(w);
            std::visit(HopJson{hop}, h);
            hop.end();
        }
        w.EndArray();
        row.boolean("incomplete", p.incomplete);
        if (!r.counts.last_seen_ns) row.null("last_seen_ago_s");
        else
            row.key("last_seen_ago_s")
                .Double(s.now_ns > r.counts.last_seen_ns
                            ? std::round(double(s.now_ns - r.counts.last_seen_ns) / 1e6) / 1e3
                            : 0.0);
        row.uint("netns", p.netns);
        row.str("outcome", name_of(p.outcome));
        row.boolean("outcome_inferred", p.outcome_inferred);
        row.uint("packets", r.counts.packets);
        write_rate(row, "rate_bps", r.counts.rate_bps);
        write_rate(row, "rate_pps", r.counts.rate_pps);
        row.boolean("rp_filter_failed", p.rp_filter_failed());
        row.str("text", path_text(p));
        row.end();
    }
    w.EndArray();
    top.uint("paths_total", s.paths);
    top.uint("sample_every", o.sample_every);
    top.end();
}

} // namespace wgbpf
