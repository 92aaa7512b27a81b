#include "probe/module_table.hpp"

#include <spdlog/spdlog.h>

#include "probe/device_probe.hpp"
#include "probe/drop_probe.hpp"
#include "probe/netfilter_probe.hpp"
#include "probe/route_probe.hpp"
#include "probe/wireguard_probe.hpp"

namespace wgbpf {

namespace {

template <typename Probe>
Result<std::unique_ptr<ProbeModule>> as_module(Result<std::unique_ptr<Probe>> started) {
    if (!started) return started;
    return std::unique_ptr<ProbeModule>(std::move(started.value()));
}

// One object for every namespace; where its brackets cannot be placed, the others still have theirs.
Result<std::unique_ptr<ProbeModule>> start_netfilter(const ModuleStart& w) {
    const NamespaceRuleset& first = w.namespaces.front();
    auto started = NetfilterProbe::start(w.kernel, w.filter, w.maps, w.ringbuf_bytes, *first.handle, *first.nft);
    if (!started) return started;
    for (size_t i = 1; i < w.namespaces.size(); ++i) {
        const NamespaceRuleset& ns = w.namespaces[i];
        if (auto r = started.value()->watch_namespace(*ns.handle, *ns.nft); !r)
            spdlog::warn("netfilter module: not in {}: {}", ns.handle->description(), r.error());
    }
    return as_module(std::move(started));
}

constexpr ModuleRow kTable[] = {
    {ModuleId::route, [](const KernelFeatures& k) { return choose_route_flavour(k).can_run; },
     [](const ModuleStart& w) { return as_module(RouteProbe::start(w.kernel, w.filter, w.maps, w.ringbuf_bytes)); }},
    {ModuleId::netfilter, [](const KernelFeatures& k) { return choose_netfilter_flavour(k).can_run; }, start_netfilter},
    {ModuleId::drop, [](const KernelFeatures& k) { return choose_drop_flavour(k).can_run; },
     [](const ModuleStart& w) { return as_module(DropProbe::start(w.kernel, w.filter, w.maps, w.ringbuf_bytes)); }},
    {ModuleId::device, device_can_run,
     [](const ModuleStart& w) { return as_module(DeviceProbe::start(w.kernel, w.filter, w.maps, w.ringbuf_bytes)); }},
    {ModuleId::wireguard, [](const KernelFeatures& k) { return choose_wireguard_flavour(k).can_run; },
     [](const ModuleStart& w) {
         return as_module(WireguardProbe::start(w.kernel, w.filter, w.maps, w.ringbuf_bytes));
     }},
};
static_assert(std::size(kTable) == kModules.size(), "a row for every module");

} // namespace

std::span<const ModuleRow> module_table() { return kTable; }

} // namespace wgbpf
