#pragma once
// The drop module: watched packets freed with a drop reason (tp_btf kfree_skb), and the end of a
// packet's watch when it is consumed normally (consume_skb).
#include <memory>

#include "wgbpf/abi/events.h"
#include "loader/kernel_features.hpp"
#include "loader/shared_maps.hpp"
#include "common/result.hpp"
#include "event/module_status.hpp"
#include "probe/probe_module.hpp"
#include "probe/netfilter_flavour.hpp"

namespace wgbpf {

class DropProbe final : public ProbeModule {
public:
    static Result<std::unique_ptr<DropProbe>> start(const KernelFeatures& kernel, const wgbpf_filter& filter,
                                                     SharedMaps& maps, uint32_t ringbuf_bytes);
    ~DropProbe();
    // It follows packets the others picked; the filter tells it the user-space WireGuard tunnels to follow.
    void set_filter(const wgbpf_filter& filter) override;
    ModuleStatus status() const override;

private:
    struct Impl;
    explicit DropProbe(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

} // namespace wgbpf
