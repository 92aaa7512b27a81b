#include "config/netns_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace wgbpf {

std::string_view name_of(RouteType t) {
    switch (t) {
    case RouteType::unspec: return "unspec";
    case RouteType::unicast: return "unicast";
    case RouteType::local: return "local";
    case RouteType::broadcast: return "broadcast";
    case RouteType::anycast: return "anycast";
    case RouteType::multicast: return "multicast";
    case RouteType::blackhole: return "blackhole";
    case RouteType::unreachable: return "unreachable";
    case RouteType::prohibit: return "prohibit";
    case RouteType::throw_: return "throw";
    case RouteType::nat: return "nat";
    }
    return {};
}

const Link* NetnsConfig::link_by_index(int ifindex) const {
    auto it = std::find_if(links.begin(), links.end(), [&](const Link& l) { return l.ifindex == ifindex; });
    return it == links.end() ? nullptr : &*it;
}

const Link* NetnsConfig::link_by_name(const std::string& name) const {
    auto it = std::find_if(links.begin(), links.end(), [&](const Link& l) { return l.name == name; });
    return it == links.end() ? nullptr : &*it;
}

std::string NetnsConfig::link_name(int ifindex) const {
    if (ifindex <= 0) return "";
    if (const Link* l = link_by_index(ifindex)) return l->name;
    return fmt::format("if{}", ifindex);
}

std::vector<const Rule*> NetnsConfig::rules_for(Family f) const {
    std::vector<const Rule*> out;
    for (const Rule& r : rules)
        if (r.family == f) out.push_back(&r);
    std::stable_sort(out.begin(), out.end(), [](const Rule* a, const Rule* b) { return a->pref < b->pref; });
    return out;
}

bool NetnsConfig::has_table(Family f, uint32_t table) const { return route_index().has_table(f, table); }

void NetnsConfig::sort_routes() {
    std::sort(routes.begin(), routes.end());
    route_index_.reset();
}

bool NetnsConfig::apply(const RouteChanges& changes) {
    std::vector<Route> gone = changes.removed;
    std::sort(gone.begin(), gone.end());
    std::vector<Route> kept;
    kept.reserve(routes.size() + changes.added.size() + changes.replaced.size());
    std::set<RouteKey> replaced_keys;
    for (const Route& r : changes.replaced) replaced_keys.insert(route_key(r));
    size_t matched = 0;
    auto g = gone.begin();
    for (const Route& r : routes) {
        while (g != gone.end() && *g < r) ++g; // a removal of a route that is not there: drifted
        if (g != gone.end() && *g == r) {
            ++g;
            ++matched;
            continue;
        }
        if (replaced_keys.empty() || !replaced_keys.count(route_key(r))) kept.push_back(r);
    }
    std::vector<Route> fresh = changes.added;
    fresh.insert(fresh.end(), changes.replaced.begin(), changes.replaced.end());
    std::sort(fresh.begin(), fresh.end());
    size_t middle = kept.size();
    kept.insert(kept.end(), fresh.begin(), fresh.end());
    std::inplace_merge(kept.begin(), kept.begin() + std::ptrdiff_t(middle), kept.end());
    routes = std::move(kept);
    route_index_.reset(); // a new vector may sit where the old one was, with as many routes
    return matched == gone.size();
}

const RouteIndex& NetnsConfig::route_index() const {
    if (!route_index_ || !route_index_->indexes(routes)) route_index_ = std::make_shared<const RouteIndex>(routes);
    return *route_index_;
}

std::string builtin_table_name(uint32_t table) {
    switch (table) {
    case 253: return "default";
    case 254: return "main";
    case 255: return "local";
    default: return "";
    }
}

std::string NetnsConfig::table_name(uint32_t table) const {
    if (auto it = table_names.find(table); it != table_names.end()) return it->second;
    return builtin_table_name(table);
}

std::string Rule::to_string() const {
    std::string s = fmt::format("{}:\t", pref);
    if (invert) s += "not ";
    s += "from " + (from ? from->to_string() : std::string("all"));
    if (s.ends_with("default")) s.replace(s.size() - 7, 7, "all");
    if (to) s += " to " + to->to_string();
    if (tos) s += fmt::format(" tos {:#x}", tos);
    if (fwmark) {
        s += fmt::format(" fwmark {:#x}", *fwmark);
        if (fwmask != 0xffffffff) s += fmt::format("/{:#x}", fwmask);
    }
    if (!iif.empty()) s += " iif " + iif;
    if (!oif.empty()) s += " oif " + oif;
    if (ip_proto) s += fmt::format(" ipproto {}", ip_proto);
    if (sport) s += fmt::format(" sport {}-{}", sport->start, sport->end);
    if (dport) s += fmt::format(" dport {}-{}", dport->start, dport->end);
    if (uid_range) s += fmt::format(" uidrange {}-{}", uid_range->first, uid_range->second);
    switch (action) {
    case RuleAction::to_table: {
        std::string name = builtin_table_name(table);
        s += " lookup " + (name.empty() ? std::to_string(table) : name);
        break;
    }
    case RuleAction::go_to: s += fmt::format(" goto {}", goto_target.value_or(0)); break;
    case RuleAction::nop: s += " nop"; break;
    case RuleAction::blackhole: s += " blackhole"; break;
    case RuleAction::unreachable: s += " unreachable"; break;
    case RuleAction::prohibit: s += " prohibit"; break;
    }
    if (suppress_prefixlen >= 0) s += fmt::format(" suppress_prefixlength {}", suppress_prefixlen);
    if (suppress_ifgroup >= 0) s += fmt::format(" suppress_ifgroup {}", suppress_ifgroup);
    return s;
}

} // namespace wgbpf
