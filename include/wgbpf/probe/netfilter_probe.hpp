#pragma once
// The netfilter module: exact chain runs (fexit nft_do_chain) or brackets (netfilter links in the
// watched namespace, moved when the ruleset changes). Links die with the process: nothing is pinned,
// so they are gone after exit, a kill or a crash, and the namespace's ruleset is never touched.
#include <memory>

#include "wgbpf/abi/events.h"
#include "wgbpf/bpf/kernel_features.hpp"
#include "wgbpf/bpf/shared_maps.hpp"
#include "wgbpf/common/result.hpp"
#include "wgbpf/config/nft_ruleset.hpp"
#include "wgbpf/netfilter/bracket_plan.hpp"
#include "wgbpf/netlink/netns.hpp"
#include "wgbpf/probe/module_status.hpp"
#include "wgbpf/probe/netfilter_flavour.hpp"

namespace wgbpf {

class NetfilterProbe {
public:
    static Result<std::unique_ptr<NetfilterProbe>> start(const KernelFeatures& kernel, const wgbpf_filter& filter,
                                                         SharedMaps& maps, uint32_t ringbuf_bytes,
                                                         const NetnsHandle& ns, const NftRuleset& ruleset);
    ~NetfilterProbe();

    // Brackets move with the ruleset (a new plan generation); no-op for the exact flavour.
    Result<void> update_ruleset(const NftRuleset& ruleset);
    const BracketPlan* plan() const; // nullptr for the exact flavour
    void set_filter(const wgbpf_filter& filter);
    ModuleStatus status() const;

private:
    struct Impl;
    explicit NetfilterProbe(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

} // namespace wgbpf
