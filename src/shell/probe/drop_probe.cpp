#include "probe/drop_probe.hpp"

#include <cerrno>
#include <cstring>

#include "drop.skel.h"
#include "loader/libbpf_raii.hpp"
#include "probe/shared_load.hpp"

namespace wgbpf {

using DropSkel = SkeletonPtr<wgbpf_drop_bpf, wgbpf_drop_bpf__destroy>;

struct DropProbe::Impl {
    DropFlavour flavour;
    DropSkel skel;
};

Result<std::unique_ptr<DropProbe>> DropProbe::start(const KernelFeatures& kernel, const wgbpf_filter& filter,
                                                    SharedMaps& maps, uint32_t ringbuf_bytes) {
    auto impl = std::make_unique<Impl>();
    impl->flavour = choose_drop_flavour(kernel);
    if (!impl->flavour.can_run) return Error{impl->flavour.can_run.why_not};
    const bool with_reason = impl->flavour.with_reason;
    auto skel = start_object<wgbpf_drop_bpf, wgbpf_drop_bpf__destroy>(
        wgbpf_drop_bpf__open, wgbpf_drop_bpf__load, wgbpf_drop_bpf__attach, maps, ringbuf_bytes,
        {"cannot open the drop BPF object", "drop", "cannot attach to kfree_skb"}, &filter,
        [with_reason](wgbpf_drop_bpf& s) {
            bpf_program__set_autoload(s.progs.drop_kfree_skb_reason, with_reason);
            bpf_program__set_autoload(s.progs.drop_kfree_skb_noreason, !with_reason);
        });
    if (!skel) return skel;
    impl->skel = std::move(skel.value());
    return std::unique_ptr<DropProbe>(new DropProbe(std::move(impl)));
}

DropProbe::DropProbe(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DropProbe::~DropProbe() = default;

void DropProbe::set_filter(const wgbpf_filter& filter) { impl_->skel->bss->filter = filter; }

ModuleStatus DropProbe::status() const {
    ModuleStatus s;
    s.module = ModuleId::drop;
    s.running = true;
    s.flavour = impl_->flavour.describe();
    return s;
}

} // namespace wgbpf
