#pragma once
// `wgbpf diagnose`'s checks of the configuration alone (pure): where each peer's endpoint is routed with
// the interface's fwmark (a loop into the tunnel, no route), whether replies from it pass rp_filter, each
// peer's allowed IPs (none left; routed elsewhere), and the MTU chain. Each result is a Finding.
#include <string>
#include <vector>

#include "config/netns_config.hpp"
#include "diagnose/finding.hpp"
#include "route/route_decision.hpp"
#include "wireguard/wg_config.hpp"

namespace wgbpf {

struct StaticReport {
    std::vector<Finding> findings;
    size_t checks = 0; // how many were run (for "N checks, M findings")
};

StaticReport static_findings(const NetnsConfig& cfg, const std::vector<WgInterface>& wireguard);

// A route decision in one line for evidence: "rule 32765 (not from all fwmark 0xca6c lookup 51820), table
// 51820: default dev wg0".
std::string decision_evidence(const RouteDecision& d, const NetnsConfig& cfg);

// rp_filter as the kernel applies it on a device: max(conf/all, conf/<dev>); src_valid_mark: either.
int rp_filter_mode(const NetnsConfig& cfg, const std::string& dev);
bool src_valid_mark(const NetnsConfig& cfg, const std::string& dev);

} // namespace wgbpf
