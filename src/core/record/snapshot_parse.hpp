#pragma once
// The snapshot parsers behind snapshot_json.hpp, for frames that nest snapshots: errors then carry the
// whole field path ("config.rules[3].pref: ...").
#include <vector>

#include "json_in.hpp"
#include "config/netns_config.hpp"
#include "netfilter/bracket_plan.hpp"
#include "wireguard/wg_config.hpp"

namespace wgbpf::record_detail {

// `routes_required` false: a frame whose routes come as changes to the previous ones may leave them out.
NetnsConfig parse_netns_config(const JsonIn& j, bool routes_required = true);
RouteChanges parse_route_changes(const JsonIn& j);
nlohmann::json route_changes_json(const RouteChanges& changes);
NftRuleset parse_nft_ruleset(const JsonIn& j);
BracketPlan parse_bracket_plan(const JsonIn& j);
std::vector<WgInterface> parse_wireguard(const JsonIn& j);

} // namespace wgbpf::record_detail
