#pragma once
// The device module: watched packets received on a device (netif_receive_skb) or handed to one
// (net_dev_start_xmit): where timelines start and end, and WireGuard's inner packets at the tunnel device.
#include <memory>

#include "wgbpf/abi/events.h"
#include "loader/kernel_features.hpp"
#include "loader/shared_maps.hpp"
#include "common/result.hpp"
#include "event/module_status.hpp"
#include "probe/can_run.hpp"
#include "probe/probe_module.hpp"

namespace wgbpf {

// Devices have one flavour: the two BTF tracepoints.
CanRun device_can_run(const KernelFeatures& kernel);

class DeviceProbe final : public ProbeModule {
public:
    static Result<std::unique_ptr<DeviceProbe>> start(const KernelFeatures& kernel, const wgbpf_filter& filter,
                                                      SharedMaps& maps, uint32_t ringbuf_bytes);
    ~DeviceProbe();
    void set_filter(const wgbpf_filter& filter) override;
    ModuleStatus status() const override;

private:
    struct Impl;
    explicit DeviceProbe(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

} // namespace wgbpf
