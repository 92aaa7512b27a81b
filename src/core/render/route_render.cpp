#include "render/route_render.hpp"

#include "render/packet_render.hpp"

#include <fmt/format.h>

#include "config/netns_config.hpp"
#include "render/paint.hpp"
#include <netinet/in.h>

#include <algorithm>

namespace wgbpf {
namespace {

using paint::Paint;

std::string table_text(uint32_t table, const std::string& name) {
    return name.empty() ? std::to_string(table) : fmt::format("{} ({})", name, table);
}

} // namespace

std::string route_text(const std::optional<IpPrefix>& prefix, const std::optional<IpAddress>& gw,
                       const std::string& oif) {
    std::string s = prefix ? prefix->to_string() : std::string("route");
    if (gw) s += " via " + gw->to_string();
    if (!oif.empty()) s += " dev " + oif;
    return s;
}

namespace {

bool is_icmp(const RouteDecision& d) { return d.proto == IPPROTO_ICMP || d.proto == IPPROTO_ICMPV6; }

// For ICMP the kernel's flow carries type and code where ports would be (union flowi_uli: dport's bytes).
uint8_t icmp_type(const RouteDecision& d) { return d.dport >> 8; }
uint8_t icmp_code(const RouteDecision& d) { return d.dport & 0xff; }

std::string flow_text(const RouteDecision& d) {
    std::string s = fmt::format("{} -> {}", d.src.to_string(), d.dst.to_string());
    if (d.proto) {
        s += " " + proto_name(d.proto, d.family);
        if (is_icmp(d) && d.dport) s += " " + icmp_type_text(d.proto, icmp_type(d), icmp_code(d));
        else if (d.sport || d.dport) s += fmt::format(" {} -> {}", d.sport, d.dport);
    }
    s += fmt::format("  mark {:#x}", d.mark);
    if (!d.iif.empty() && d.iif != "lo") s += "  iif " + d.iif;
    if (!d.oif.empty()) s += "  oif " + d.oif;
    return s;
}

std::string decision_text(const RouteDecision& d) {
    std::string where = d.rule
                            ? fmt::format("rule {}, table {}", *d.rule, table_text(d.table.value_or(0), d.table_name))
                        : d.table ? fmt::format("table {}", table_text(*d.table, d.table_name))
                                  : std::string();
    if (d.fast_path) where += where.empty() ? "no ip rules: main table directly" : ", no ip rules: main table directly";
    std::string what;
    if (d.result == LookupResult::hit) {
        if (d.route_type == RouteType::local)
            what = "local delivery" + (d.result_oif.empty() ? "" : " (dev " + d.result_oif + ")");
        else if (d.route_type == RouteType::broadcast) what = "broadcast on " + d.result_oif;
        else what = route_text(d.prefix, d.gateway, d.result_oif);
    } else {
        what = d.result == LookupResult::none ? "no decision seen" : std::string(name_of(d.result));
    }
    if (!where.empty()) what += "  (" + where + ")";
    if (!d.complete) what += "  [walk not seen to its end]";
    return what;
}

const char* direction_title(RouteDirection dir) {
    switch (dir) {
    case RouteDirection::output: return "output";
    case RouteDirection::input: return "input ";
    case RouteDirection::reverse: return "rp_filter reverse lookup";
    }
    return "";
}

} // namespace

std::string proto_name(uint8_t proto, Family family) {
    switch (proto) {
    case IPPROTO_ICMP: return "icmp";
    case IPPROTO_TCP: return "tcp";
    case IPPROTO_UDP: return "udp";
    case IPPROTO_ICMPV6: return "icmpv6";
    case IPPROTO_SCTP: return "sctp";
    case IPPROTO_GRE: return "gre";
    case IPPROTO_ESP: return "esp";
    default: (void)family; return std::to_string(proto);
    }
}

std::string render_route_text(const RouteDecision& d, const TextStyle& style) {
    Paint paint{style.colour};
    std::string out =
        fmt::format("{}  {} {}  {}\n", paint(paint::dim, event_clock_text(d.t_ns, style)), paint(paint::bold, "route"),
                    d.reroute ? "re-route" : direction_title(d.direction), flow_text(d));

    // Lookups in the order the kernel made them, with the rules it passed over placed by preference.
    auto skipped = d.skipped;
    size_t next_skip = 0;
    auto print_skipped_before = [&](std::optional<uint32_t> pref) {
        while (next_skip < skipped.size() && (!pref || skipped[next_skip].rule < *pref)) {
            out += fmt::format("    rule {:<6} {:<18} {}\n", skipped[next_skip].rule, "skipped",
                               paint(paint::dim, skipped[next_skip].why));
            ++next_skip;
        }
    };
    for (const RouteLookupStep& step : d.lookups) {
        print_skipped_before(step.rule);
        std::string builtin = builtin_table_name(step.table);
        std::string table =
            "lookup " + (builtin.empty()
                             ? table_text(step.table, step.table == d.table.value_or(~0u) ? d.table_name : "")
                             : builtin);
        std::string result;
        if (step.result == LookupResult::miss) {
            result = paint(paint::dim, "miss");
        } else if (step.result == LookupResult::hit || step.result == LookupResult::suppressed) {
            result = route_text(step.prefix, step.gateway, step.oif);
            if (step.result == LookupResult::suppressed)
                result += "  " + paint(paint::yellow, "suppressed" + (step.why.empty() ? "" : ": " + step.why));
        } else {
            result = paint(paint::red, std::string(name_of(step.result)));
        }
        std::string rule = d.fast_path ? std::string("-") : std::to_string(step.rule);
        out += fmt::format("    rule {:<6} {:<18} {}\n", rule, table, result);
    }
    print_skipped_before(d.rule);
    bool good = d.result == LookupResult::hit;
    out += fmt::format("    => {}\n", paint(good ? paint::green : paint::red, decision_text(d)));
    for (const std::string& note : d.notes) out += fmt::format("    {}\n", paint(paint::dim, "note: " + note));
    return out;
}

void write_route_json(JsonWriter& w, const RouteDecision& d) {
    auto prefix = [](const std::optional<IpPrefix>& p) {
        return p->address.to_string() + "/" + std::to_string(p->length);
    };
    auto write_prefix = [&](JsonObject& o, std::string_view key, const std::optional<IpPrefix>& p) {
        if (p) o.str(key, prefix(p));
        else o.null(key);
    };
    auto write_addr = [](JsonObject& o, std::string_view key, const std::optional<IpAddress>& a) {
        if (a) o.str(key, a->to_string());
        else o.null(key);
    };
    bool icmp_fields = is_icmp(d) && d.dport;
    bool port_fields = !is_icmp(d) && (d.sport || d.dport);

    JsonObject j(w); // keys in byte order
    j.boolean("complete", d.complete);
    j.str("direction", direction_name(d.direction));
    if (port_fields) j.uint("dport", d.dport);
    j.str("dst", d.dst.to_string());
    j.boolean("exact", d.exact);
    j.str("family", family_name(d.family));
    j.boolean("fast_path", d.fast_path);
    j.name("flow_oif", d.oif);
    write_addr(j, "gateway", d.gateway);
    if (icmp_fields) {
        j.uint("icmp_code", icmp_code(d));
        j.uint("icmp_type", icmp_type(d));
    }
    j.name("iif", d.iif);
    j.str("kind", "route");
    j.key("lookups").StartArray();
    for (const RouteLookupStep& s : d.lookups) {
        JsonObject l(w);
        bool found = s.result == LookupResult::hit || s.result == LookupResult::suppressed;
        if (found) {
            write_addr(l, "gateway", s.gateway);
            l.name("oif", s.oif);
            write_prefix(l, "prefix", s.prefix);
        }
        l.str("result", name_of(s.result));
        l.uint("rule", s.rule);
        l.uint("table", s.table);
        if (!s.why.empty()) l.str("why", s.why);
        l.end();
    }
    w.EndArray();
    j.uint("mark", d.mark);
    j.uint("netns", d.netns);
    if (!d.notes.empty()) j.strings("notes", d.notes);
    j.name("oif", d.result_oif);
    write_prefix(j, "prefix", d.prefix);
    if (d.proto) j.str("proto", proto_name(d.proto, d.family));
    if (d.reroute) j.boolean("reroute", true);
    j.str("result", d.result == LookupResult::none ? std::string_view("unknown") : name_of(d.result));
    // A type this wgbpf has no word for (RTN_XRESOLVE, or a newer kernel's) was always written "unspec".
    std::string_view type = d.route_type ? name_of(*d.route_type) : std::string_view();
    j.name("route_type", d.route_type && type.empty() ? std::string_view("unspec") : type);
    if (d.rule) j.uint("rule", *d.rule);
    else j.null("rule");
    j.key("skipped").StartArray();
    for (const SkippedRule& s : d.skipped) {
        JsonObject o(w);
        o.uint("rule", s.rule);
        o.str("why", s.why);
        o.end();
    }
    w.EndArray();
    if (port_fields) j.uint("sport", d.sport);
    j.str("src", d.src.to_string());
    j.uint("t_ns", d.t_ns);
    if (d.table) j.uint("table", *d.table);
    else j.null("table");
    j.name("table_name", d.table_name);
    j.end();
}

} // namespace wgbpf
