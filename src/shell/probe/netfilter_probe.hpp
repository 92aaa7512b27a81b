#pragma once
// The netfilter module: exact chain runs (fexit nft_do_chain) or brackets (netfilter links in the
// watched namespace, moved when the ruleset changes). Links die with the process: nothing is pinned,
// so they are gone after exit, a kill or a crash, and the namespace's ruleset is never touched.
#include <memory>

#include "wgbpf/abi/events.h"
#include "loader/kernel_features.hpp"
#include "loader/shared_maps.hpp"
#include "common/result.hpp"
#include "config/nft_ruleset.hpp"
#include "netfilter/bracket_plan.hpp"
#include "netlink/netns.hpp"
#include "event/module_status.hpp"
#include "probe/probe_module.hpp"
#include "probe/netfilter_flavour.hpp"

namespace wgbpf {

// Netfilter chains' verdicts and mark changes: the exact flavour (fentry/fexit nft_do_chain) sees every
// namespace's chains; the brackets (netfilter links around the base chains) are attached namespace by
// namespace, from one BPF object (loading it once per namespace would cost a verification each).
class NetfilterProbe final : public ProbeModule {
public:
    // Starts the module and watches `ns` (the first namespace).
    static Result<std::unique_ptr<NetfilterProbe>> start(const KernelFeatures& kernel, const wgbpf_filter& filter,
                                                         SharedMaps& maps, uint32_t ringbuf_bytes,
                                                         const NetnsHandle& ns, const NftRuleset& ruleset);
    ~NetfilterProbe();

    // Brackets in another namespace too (`ns` must outlive the probe); no-op for the exact flavour.
    Result<void> watch_namespace(const NetnsHandle& ns, const NftRuleset& ruleset);
    // Brackets move with the namespace's ruleset (a new plan generation); no-op for the exact flavour.
    Result<void> update_ruleset(uint32_t netns, const NftRuleset& ruleset);
    const BracketPlan* plan(uint32_t netns) const; // nullptr for the exact flavour, or a namespace not watched
    void set_filter(const wgbpf_filter& filter) override;
    ModuleStatus status() const override;

private:
    struct Impl;
    explicit NetfilterProbe(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

} // namespace wgbpf
