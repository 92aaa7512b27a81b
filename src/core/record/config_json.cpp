// NetnsConfig and NftRuleset <-> JSON. Enumerations are written as the kernel's numbers (FR_ACT_*, RTN_*,
// NF_INET_*): the config holds whatever the kernel said, including values wgbpf has no name for.
#include "snapshot_parse.hpp"
#include "record/snapshot_json.hpp"

namespace wgbpf {
namespace {

using nlohmann::json;
using record_detail::JsonIn;
using record_detail::prefix_text;

json port_range_json(const PortRange& r) { return json::array({r.start, r.end}); }

PortRange port_range(const JsonIn& j) {
    auto items = j.items();
    if (items.size() != 2) j.fail("expected [start, end]");
    return PortRange{items[0].unsigned_int<uint16_t>(), items[1].unsigned_int<uint16_t>()};
}

json rule_json(const Rule& r) {
    json j = {{"family", uint8_t(r.family)},
              {"pref", r.pref},
              {"action", uint8_t(r.action)},
              {"table", r.table},
              {"invert", r.invert},
              {"fwmask", r.fwmask},
              {"iif", r.iif},
              {"oif", r.oif},
              {"tos", r.tos},
              {"ip_proto", r.ip_proto},
              {"suppress_prefixlen", r.suppress_prefixlen},
              {"suppress_ifgroup", r.suppress_ifgroup},
              {"l3mdev", r.l3mdev}};
    if (r.fwmark) j["fwmark"] = *r.fwmark;
    if (r.from) j["from"] = prefix_text(*r.from);
    if (r.to) j["to"] = prefix_text(*r.to);
    if (r.uid_range) j["uid_range"] = json::array({r.uid_range->first, r.uid_range->second});
    if (r.sport) j["sport"] = port_range_json(*r.sport);
    if (r.dport) j["dport"] = port_range_json(*r.dport);
    if (r.goto_target) j["goto"] = *r.goto_target;
    return j;
}

Rule rule(const JsonIn& j) {
    Rule r;
    r.family = j.at("family").family();
    r.pref = j.at("pref").unsigned_int<uint32_t>();
    r.action = RuleAction(j.at("action").unsigned_int<uint8_t>());
    r.table = j.at("table").unsigned_int<uint32_t>();
    r.invert = j.at("invert").boolean();
    r.fwmask = j.at("fwmask").unsigned_int<uint32_t>();
    r.iif = j.at("iif").string();
    r.oif = j.at("oif").string();
    r.tos = j.at("tos").unsigned_int<uint8_t>();
    r.ip_proto = j.at("ip_proto").unsigned_int<uint8_t>();
    r.suppress_prefixlen = j.at("suppress_prefixlen").signed_int<int32_t>();
    r.suppress_ifgroup = j.at("suppress_ifgroup").signed_int<int32_t>();
    r.l3mdev = j.at("l3mdev").boolean();
    if (auto v = j.maybe("fwmark")) r.fwmark = v->unsigned_int<uint32_t>();
    if (auto v = j.maybe("from")) r.from = v->prefix();
    if (auto v = j.maybe("to")) r.to = v->prefix();
    if (auto v = j.maybe("uid_range")) {
        auto items = v->items();
        if (items.size() != 2) v->fail("expected [start, end]");
        r.uid_range = std::pair{items[0].unsigned_int<uint32_t>(), items[1].unsigned_int<uint32_t>()};
    }
    if (auto v = j.maybe("sport")) r.sport = port_range(*v);
    if (auto v = j.maybe("dport")) r.dport = port_range(*v);
    if (auto v = j.maybe("goto")) r.goto_target = v->unsigned_int<uint32_t>();
    return r;
}

// Positional, [family, table, "dst", type, oif, metric, scope, tos, "gateway" | null]: a full routing table
// is ~1M routes, and an object per route would cost several times the memory and the bytes.
json route_json(const Route& r) {
    return json::array({uint8_t(r.family), r.table, prefix_text(r.dst), uint8_t(r.type), r.oif, r.metric, r.scope,
                        r.tos, r.gateway ? json(r.gateway->to_string()) : json(nullptr)});
}

Route route(const JsonIn& j) {
    Route r;
    if (j.raw().is_array()) { // format 2
        auto f = j.items();
        if (f.size() != 9) j.fail("expected [family, table, dst, type, oif, metric, scope, tos, gateway]");
        r.family = f[0].family();
        r.table = f[1].unsigned_int<uint32_t>();
        r.dst = f[2].prefix();
        r.type = RouteType(f[3].unsigned_int<uint8_t>());
        r.oif = f[4].signed_int<int>();
        r.metric = f[5].unsigned_int<uint32_t>();
        r.scope = f[6].unsigned_int<uint8_t>();
        r.tos = f[7].unsigned_int<uint8_t>();
        if (!f[8].raw().is_null()) r.gateway = f[8].address();
        return r;
    }
    r.family = j.at("family").family(); // format 1: an object
    r.table = j.at("table").unsigned_int<uint32_t>();
    r.dst = j.at("dst").prefix();
    r.type = RouteType(j.at("type").unsigned_int<uint8_t>());
    r.oif = j.at("oif").signed_int<int>();
    r.metric = j.at("metric").unsigned_int<uint32_t>();
    r.scope = j.at("scope").unsigned_int<uint8_t>();
    r.tos = j.at("tos").unsigned_int<uint8_t>();
    if (auto v = j.maybe("gateway")) r.gateway = v->address();
    return r;
}

std::vector<Route> routes(const JsonIn& j) {
    std::vector<Route> out;
    for (const JsonIn& r : j.items()) out.push_back(route(r));
    return out;
}

json routes_json(const std::vector<Route>& rs) {
    json out = json::array();
    for (const Route& r : rs) out.push_back(route_json(r));
    return out;
}

NfHook hook(const JsonIn& j) {
    uint8_t h = j.unsigned_int<uint8_t>();
    if (h > uint8_t(NfHook::ingress)) j.fail("expected a netfilter hook number (0-5)");
    return NfHook(h);
}

json chain_json(const NftChain& c) {
    json rules = json::array();
    for (const NftRule& r : c.rules) rules.push_back({{"handle", r.handle}, {"text", r.text}, {"comment", r.comment}});
    json j = {{"family", c.family},
              {"table", c.table},
              {"name", c.name},
              {"handle", c.handle},
              {"table_handle", c.table_handle},
              {"base", c.base},
              {"type", c.type},
              {"hook_text", c.hook_text},
              {"priority", c.priority},
              {"policy", c.policy},
              {"rules", rules}};
    if (c.hook) j["hook"] = uint8_t(*c.hook);
    return j;
}

NftChain chain(const JsonIn& j) {
    NftChain c;
    c.family = j.at("family").string();
    c.table = j.at("table").string();
    c.name = j.at("name").string();
    c.handle = j.at("handle").unsigned_int<uint64_t>();
    c.table_handle = j.at("table_handle").unsigned_int<uint64_t>();
    c.base = j.at("base").boolean();
    c.type = j.at("type").string();
    c.hook_text = j.at("hook_text").string();
    c.priority = j.at("priority").signed_int<int32_t>();
    c.policy = j.at("policy").string();
    if (auto v = j.maybe("hook")) c.hook = hook(*v);
    for (const JsonIn& r : j.at("rules").items())
        c.rules.push_back(
            NftRule{r.at("handle").unsigned_int<uint64_t>(), r.at("text").string(), r.at("comment").string()});
    return c;
}

} // namespace

namespace record_detail {

NftRuleset parse_nft_ruleset(const JsonIn& j) {
    NftRuleset r;
    for (const JsonIn& t : j.at("tables").items())
        r.tables.push_back(NftTable{t.at("family").string(), t.at("name").string(),
                                    t.at("handle").unsigned_int<uint64_t>(), t.at("flags").unsigned_int<uint32_t>()});
    for (const JsonIn& c : j.at("chains").items()) r.chains.push_back(chain(c));
    for (const JsonIn& l : j.at("legacy").items())
        r.legacy.push_back(LegacyTable{l.at("pf").unsigned_int<uint8_t>(), l.at("name").string()});
    if (auto hidden = j.maybe("hidden_tables")) // since 0.2
        for (const JsonIn& h : hidden->items()) r.hidden_tables.push_back(h.unsigned_int<uint64_t>());
    r.available = j.at("available").boolean();
    r.error = j.at("error").string();
    return r;
}

RouteChanges parse_route_changes(const JsonIn& j) {
    RouteChanges c;
    c.removed = routes(j.at("removed"));
    c.added = routes(j.at("added"));
    return c;
}

json route_changes_json(const RouteChanges& c) {
    return {{"removed", routes_json(c.removed)}, {"added", routes_json(c.added)}};
}

NetnsConfig parse_netns_config(const JsonIn& j, bool routes_required) {
    NetnsConfig c;
    c.netns_inode = j.at("netns").unsigned_int<uint32_t>();
    for (const JsonIn& l : j.at("links").items())
        c.links.push_back(Link{l.at("ifindex").signed_int<int>(), l.at("name").string(),
                               l.at("group").unsigned_int<uint32_t>(),
                               l.maybe("mtu") ? l.at("mtu").unsigned_int<uint32_t>() : 0});
    for (const JsonIn& r : j.at("rules").items()) c.rules.push_back(rule(r));
    if (routes_required || j.maybe("routes")) c.routes = routes(j.at("routes"));
    c.sort_routes(); // format 1 kept the kernel's dump order
    for (const auto& [key, name] : j.at("table_names").members())
        c.table_names[JsonIn::key_number<uint32_t>(name, key)] = name.string();
    for (const auto& [iface, conf] : j.at("ipv4_conf").members())
        c.ipv4_conf[iface] =
            Ipv4Conf{conf.at("rp_filter").signed_int<int>(), conf.at("src_valid_mark").signed_int<int>(),
                     conf.maybe("forwarding") ? std::optional(conf.at("forwarding").signed_int<int>()) : std::nullopt};
    c.nft = parse_nft_ruleset(j.at("nft"));
    return c;
}

} // namespace record_detail

json nft_ruleset_to_json(const NftRuleset& r) {
    json tables = json::array(), chains = json::array(), legacy = json::array();
    for (const NftTable& t : r.tables)
        tables.push_back({{"family", t.family}, {"name", t.name}, {"handle", t.handle}, {"flags", t.flags}});
    for (const NftChain& c : r.chains) chains.push_back(chain_json(c));
    for (const LegacyTable& l : r.legacy) legacy.push_back({{"pf", l.pf}, {"name", l.name}});
    return {{"tables", tables},         {"chains", chains}, {"legacy", legacy}, {"hidden_tables", r.hidden_tables},
            {"available", r.available}, {"error", r.error}};
}

Result<NftRuleset> nft_ruleset_from_json(const json& j) {
    return record_detail::read_json<NftRuleset>(j, "nftables ruleset", record_detail::parse_nft_ruleset);
}

json netns_config_to_json(const NetnsConfig& c, bool with_routes) {
    json links = json::array(), rules = json::array();
    json table_names = json::object(), ipv4_conf = json::object();
    for (const Link& l : c.links)
        links.push_back({{"ifindex", l.ifindex}, {"name", l.name}, {"group", l.group}, {"mtu", l.mtu}});
    for (const Rule& r : c.rules) rules.push_back(rule_json(r));
    for (const auto& [id, name] : c.table_names) table_names[std::to_string(id)] = name;
    for (const auto& [iface, conf] : c.ipv4_conf) {
        ipv4_conf[iface] = {{"rp_filter", conf.rp_filter}, {"src_valid_mark", conf.src_valid_mark}};
        if (conf.forwarding) ipv4_conf[iface]["forwarding"] = *conf.forwarding;
    }
    json out = {{"netns", c.netns_inode},     {"links", links},         {"rules", rules},
                {"table_names", table_names}, {"ipv4_conf", ipv4_conf}, {"nft", nft_ruleset_to_json(c.nft)}};
    if (with_routes) out["routes"] = routes_json(c.routes);
    return out;
}

Result<NetnsConfig> netns_config_from_json(const json& j) {
    return record_detail::read_json<NetnsConfig>(j, "namespace configuration", [](const record_detail::JsonIn& in) {
        return record_detail::parse_netns_config(in);
    });
}

} // namespace wgbpf
