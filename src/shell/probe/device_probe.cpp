#include "probe/device_probe.hpp"

#include <cerrno>
#include <cstring>

#include "device.skel.h"
#include "loader/libbpf_raii.hpp"
#include "probe/shared_load.hpp"

namespace wgbpf {

using DeviceSkel = SkeletonPtr<wgbpf_device_bpf, wgbpf_device_bpf__destroy>;

struct DeviceProbe::Impl {
    DeviceSkel skel;
};

CanRun device_can_run(const KernelFeatures& kernel) {
    if (!kernel.has_tracepoint("netif_receive_skb") || !kernel.has_tracepoint("net_dev_start_xmit"))
        return CanRun::no("the kernel has no BTF tracepoints netif_receive_skb / net_dev_start_xmit");
    return {};
}

Result<std::unique_ptr<DeviceProbe>> DeviceProbe::start(const KernelFeatures& kernel, const wgbpf_filter& filter,
                                                        SharedMaps& maps, uint32_t ringbuf_bytes) {
    if (CanRun can = device_can_run(kernel); !can) return Error{can.why_not};
    auto impl = std::make_unique<Impl>();
    auto skel = start_object<wgbpf_device_bpf, wgbpf_device_bpf__destroy>(
        wgbpf_device_bpf__open, wgbpf_device_bpf__load, wgbpf_device_bpf__attach, maps, ringbuf_bytes,
        {"cannot open the device BPF object", "device", "cannot attach the device tracepoints"}, &filter);
    if (!skel) return skel;
    impl->skel = std::move(skel.value());
    return std::unique_ptr<DeviceProbe>(new DeviceProbe(std::move(impl)));
}

DeviceProbe::DeviceProbe(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DeviceProbe::~DeviceProbe() = default;

void DeviceProbe::set_filter(const wgbpf_filter& filter) { impl_->skel->bss->filter = filter; }

ModuleStatus DeviceProbe::status() const {
    ModuleStatus s;
    s.module = ModuleId::device;
    s.running = true;
    s.flavour = "tp_btf netif_receive_skb+net_dev_start_xmit";
    return s;
}

} // namespace wgbpf
