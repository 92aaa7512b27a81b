#pragma once
// The kernel WireGuard module: for each watched packet kernel WireGuard encrypts or has decrypted, the
// peer its cryptokey routing chose (bpf/wireguard.bpf.c).
#include <memory>

#include "wgbpf/abi/events.h"
#include "loader/kernel_features.hpp"
#include "loader/shared_maps.hpp"
#include "common/result.hpp"
#include "event/module_status.hpp"
#include "probe/probe_module.hpp"
#include "probe/wireguard_flavour.hpp"

namespace wgbpf {

class WireguardProbe final : public ProbeModule {
public:
    static Result<std::unique_ptr<WireguardProbe>> start(const KernelFeatures& kernel, const wgbpf_filter& filter,
                                                         SharedMaps& maps, uint32_t ringbuf_bytes);
    ~WireguardProbe();
    void set_filter(const wgbpf_filter& filter) override;
    ModuleStatus status() const override;

private:
    struct Impl;
    explicit WireguardProbe(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

} // namespace wgbpf
