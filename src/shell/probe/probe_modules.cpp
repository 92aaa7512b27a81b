#include "probe/probe_modules.hpp"

#include <spdlog/spdlog.h>

namespace wgbpf {

std::unique_ptr<ProbeModules> ProbeModules::start(const KernelFeatures& kernel, const wgbpf_filter& filter,
                                                  EbpfProgram packet_filter, uint32_t ringbuf_bytes,
                                                  std::vector<NamespaceRuleset> namespaces,
                                                  const std::function<bool()>& stopped) {
    auto m = std::unique_ptr<ProbeModules>(new ProbeModules());
    m->maps_.packet_filter = std::move(packet_filter);
    // Disarmed while they attach one after another: a packet seen by the first ones only would have a story
    // with holes (a route lookup and no device, said "delivered").
    wgbpf_filter disarmed = filter;
    disarmed.armed = 0;
    const ModuleStart with{kernel, disarmed, m->maps_, ringbuf_bytes, std::move(namespaces)};
    for (const ModuleRow& row : module_table()) {
        if (stopped()) break;
        const std::string_view name = name_of(row.id);
        const CanRun can = row.can_run(kernel);
        auto started = can ? row.start(with) : Result<std::unique_ptr<ProbeModule>>(Error{can.why_not});
        if (!started) {
            spdlog::warn("{} module cannot run on this kernel: {}", name, started.error());
            m->not_running_.push_back(ModuleStatus{row.id, false, "none", {started.error()}, 0, 0});
            continue;
        }
        m->modules_[index(row.id)] = std::move(started.value());
        const ModuleStatus s = m->modules_[index(row.id)]->status();
        spdlog::info("{} module: {}", name, s.flavour);
        for (const std::string& note : s.notes) spdlog::info("{} module: {}", name, note);
    }
    return m;
}

uint64_t ProbeModules::lost(ModuleId m) const { return read_losses(maps_.losses.get(), static_cast<uint32_t>(m)); }

uint64_t ProbeModules::undecided() const { return read_losses(maps_.losses.get(), WGBPF_COUNT_UNDECIDED); }

NetfilterProbe* ProbeModules::netfilter() const {
    // The row of ModuleId::netfilter makes only NetfilterProbes.
    return static_cast<NetfilterProbe*>(modules_[index(ModuleId::netfilter)].get());
}

void ProbeModules::set_filter(const wgbpf_filter& filter) {
    for (const auto& m : modules_)
        if (m) m->set_filter(filter);
}

std::vector<ModuleStatus> ProbeModules::statuses(const PerModule& events) const {
    std::vector<ModuleStatus> out;
    for (const auto& m : modules_) {
        if (!m) continue;
        ModuleStatus s = m->status();
        s.events = events[s.module];
        s.lost = lost(s.module);
        out.push_back(std::move(s));
    }
    out.insert(out.end(), not_running_.begin(), not_running_.end());
    return out;
}

PerModule ProbeModules::new_losses() {
    PerModule fresh;
    for (ModuleId id : kModules) {
        if (!running(id)) continue;
        const uint64_t now = lost(id);
        uint64_t& before = reported_losses_[id];
        if (now > before) fresh[id] = now - before;
        before = now;
    }
    return fresh;
}

} // namespace wgbpf
