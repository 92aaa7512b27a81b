#pragma once
// Configuration snapshots as JSON, for recordings (docs/recording-format.md): a namespace's configuration
// (links, rules, routes, table names, sysctls, nftables ruleset), a bracket plan, WireGuard interfaces.
// Pure. Reading never throws: a snapshot that does not have the expected shape is an error naming the
// field ("rules[3].pref: expected an unsigned integer up to 4294967295"). Unknown fields are ignored, so a
// newer wgbpf may add some.
#include <nlohmann/json.hpp>

#include <vector>

#include "common/result.hpp"
#include "config/netns_config.hpp"
#include "netfilter/bracket_plan.hpp"
#include "wireguard/wg_config.hpp"

namespace wgbpf {

nlohmann::json netns_config_to_json(const NetnsConfig& config, bool with_routes = true);
Result<NetnsConfig> netns_config_from_json(const nlohmann::json& j);

nlohmann::json nft_ruleset_to_json(const NftRuleset& ruleset);
Result<NftRuleset> nft_ruleset_from_json(const nlohmann::json& j);

nlohmann::json bracket_plan_to_json(const BracketPlan& plan);
Result<BracketPlan> bracket_plan_from_json(const nlohmann::json& j);

nlohmann::json wireguard_to_json(const std::vector<WgInterface>& interfaces);
Result<std::vector<WgInterface>> wireguard_from_json(const nlohmann::json& j);

} // namespace wgbpf
