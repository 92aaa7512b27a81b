#pragma once
// The probe modules, one row each: whether it can run on this kernel (and why not), and how it starts.
// Adding an observation is a module (bpf/X.bpf.c, probe/X_probe, its flavour) plus one row here.
#include <memory>
#include <span>
#include <vector>

#include "common/result.hpp"
#include "config/nft_ruleset.hpp"
#include "event/module_id.hpp"
#include "loader/kernel_features.hpp"
#include "loader/shared_maps.hpp"
#include "netlink/netns.hpp"
#include "probe/can_run.hpp"
#include "probe/probe_module.hpp"

namespace wgbpf {

// A watched namespace and its ruleset (netfilter's brackets are placed by it). Both outlive the modules.
struct NamespaceRuleset {
    const NetnsHandle* handle = nullptr;
    const NftRuleset* nft = nullptr;
};

// What every module's start gets.
struct ModuleStart {
    const KernelFeatures& kernel;
    const wgbpf_filter& filter;
    SharedMaps& maps;
    uint32_t ringbuf_bytes = 0;
    std::vector<NamespaceRuleset> namespaces; // the first is the main one; never empty
};

struct ModuleRow {
    ModuleId id;
    CanRun (*can_run)(const KernelFeatures& kernel); // its flavour's verdict on this kernel
    Result<std::unique_ptr<ProbeModule>> (*start)(const ModuleStart& with);
};

// In start order (route first: its decisions are what the other steps hang on).
std::span<const ModuleRow> module_table();

} // namespace wgbpf
