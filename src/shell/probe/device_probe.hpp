#pragma once
// The device module: watched packets received on a device (netif_receive_skb) or handed to one
// (net_dev_start_xmit): where timelines start and end, and WireGuard's inner packets at the tunnel device.
#include <memory>

#include "wgbpf/abi/events.h"
#include "loader/kernel_features.hpp"
#include "loader/shared_maps.hpp"
#include "common/result.hpp"
#include "event/module_status.hpp"

namespace wgbpf {

class DeviceProbe {
public:
    static Result<std::unique_ptr<DeviceProbe>> start(const KernelFeatures& kernel, const wgbpf_filter& filter,
                                                      SharedMaps& maps, uint32_t ringbuf_bytes);
    ~DeviceProbe();
    void set_filter(const wgbpf_filter& filter);
    ModuleStatus status() const;

private:
    struct Impl;
    explicit DeviceProbe(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

} // namespace wgbpf
