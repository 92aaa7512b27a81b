#include "wgbpf/probe/netfilter_probe.hpp"

#include <bpf/bpf.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "drop.skel.h"
#include "nf_bracket.skel.h"
#include "nf_chain.skel.h"
#include "wgbpf/bpf/libbpf_raii.hpp"

namespace wgbpf {

using BracketSkel = SkeletonPtr<wgbpf_nf_bracket_bpf, wgbpf_nf_bracket_bpf__destroy>;
using ChainSkel = SkeletonPtr<wgbpf_nf_chain_bpf, wgbpf_nf_chain_bpf__destroy>;
using DropSkel = SkeletonPtr<wgbpf_drop_bpf, wgbpf_drop_bpf__destroy>;

namespace {

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

} // namespace

uint64_t read_losses(int losses_fd, uint32_t module) {
    int ncpu = libbpf_num_possible_cpus();
    if (losses_fd < 0 || ncpu <= 0) return 0;
    std::vector<uint64_t> per_cpu(ncpu);
    if (bpf_map_lookup_elem(losses_fd, &module, per_cpu.data()) != 0) return 0;
    uint64_t sum = 0;
    for (uint64_t n : per_cpu) sum += n;
    return sum;
}

struct NetfilterProbe::Impl {
    NetfilterFlavour flavour;
    ChainSkel chain;
    BracketSkel brackets;
    const NetnsHandle* ns = nullptr;
    BracketPlan plan;
    std::vector<LinkPtr> links;
    int losses_fd = -1;
    std::vector<std::string> notes;

    Result<void> attach_brackets(const NftRuleset& ruleset) {
        uint32_t generation = plan.generation + 1;
        BracketPlan next = plan_brackets(ruleset, generation);
        links.clear(); // old brackets go first: two hooks at one priority would be refused (EBUSY)
        brackets->bss->generation = generation;
        plan = std::move(next);
        auto scope = NetnsScope::enter(*ns); // netfilter links attach to the caller's namespace
        if (!scope) return Error{scope.error()};
        for (uint32_t i = 0; i < plan.brackets.size() && i < kMaxBrackets; ++i) {
            const Bracket& b = plan.brackets[i];
            std::string name = fmt::format("nf_bracket_{}", i);
            bpf_program* prog = bpf_object__find_program_by_name(brackets->obj, name.c_str());
            if (!prog) return Error{"missing BPF program " + name};
            LIBBPF_OPTS(bpf_netfilter_opts, opts, .pf = b.pf, .hooknum = static_cast<uint32_t>(b.hook),
                        .priority = b.priority);
            LinkPtr link(bpf_program__attach_netfilter(prog, &opts));
            if (!link)
                return Error{fmt::format("cannot attach a netfilter hook at {} priority {}: {}",
                                         hook_name(b.hook), b.priority, errno_text(errno))};
            links.push_back(std::move(link));
        }
        spdlog::debug("netfilter: {} brackets placed (generation {})", links.size(), plan.generation);
        return {};
    }
};

Result<std::unique_ptr<NetfilterProbe>> NetfilterProbe::start(const KernelFeatures& kernel, const wgbpf_filter& filter,
                                                              SharedMaps& maps, uint32_t ringbuf_bytes,
                                                              const NetnsHandle& ns, const NftRuleset& ruleset) {
    auto impl = std::make_unique<Impl>();
    impl->flavour = choose_netfilter_flavour(kernel);
    impl->notes = impl->flavour.notes;
    impl->ns = &ns;
    if (impl->flavour.kind == NetfilterFlavour::Kind::none) return Error{impl->flavour.why_not};

    if (impl->flavour.kind == NetfilterFlavour::Kind::exact) {
        impl->chain.reset(wgbpf_nf_chain_bpf__open());
        if (!impl->chain) return Error{"cannot open the netfilter BPF object: " + errno_text(errno)};
        impl->chain->rodata->packet_id_key = packet_id_key();
        if (auto r = maps.reuse_in(impl->chain->maps.events, impl->chain->maps.losses, impl->chain->maps.watched,
                                   ringbuf_bytes);
            !r)
            return Error{r.error()};
        if (int err = wgbpf_nf_chain_bpf__load(impl->chain.get()))
            return Error{"the kernel refused the nft_do_chain programs: " + errno_text(err)};
        impl->chain->bss->filter = filter;
        if (int err = wgbpf_nf_chain_bpf__attach(impl->chain.get()))
            return Error{"cannot attach to nft_do_chain: " + errno_text(err)};
        maps.adopt_from(impl->chain->maps.events, impl->chain->maps.losses, impl->chain->maps.watched);
    } else {
        impl->brackets.reset(wgbpf_nf_bracket_bpf__open());
        if (!impl->brackets) return Error{"cannot open the netfilter BPF object: " + errno_text(errno)};
        impl->brackets->rodata->packet_id_key = packet_id_key();
        if (auto r = maps.reuse_in(impl->brackets->maps.events, impl->brackets->maps.losses,
                                   impl->brackets->maps.watched, ringbuf_bytes);
            !r)
            return Error{r.error()};
        if (int err = wgbpf_nf_bracket_bpf__load(impl->brackets.get()))
            return Error{"the kernel refused the netfilter link programs: " + errno_text(err)};
        impl->brackets->bss->filter = filter;
        maps.adopt_from(impl->brackets->maps.events, impl->brackets->maps.losses, impl->brackets->maps.watched);
        if (auto r = impl->attach_brackets(ruleset); !r) return Error{r.error()};
    }
    impl->losses_fd = maps.losses;
    return std::unique_ptr<NetfilterProbe>(new NetfilterProbe(std::move(impl)));
}

NetfilterProbe::NetfilterProbe(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NetfilterProbe::~NetfilterProbe() = default;

Result<void> NetfilterProbe::update_ruleset(const NftRuleset& ruleset) {
    if (!impl_->brackets) return {};
    return impl_->attach_brackets(ruleset);
}

const BracketPlan* NetfilterProbe::plan() const { return impl_->brackets ? &impl_->plan : nullptr; }

void NetfilterProbe::set_filter(const wgbpf_filter& filter) {
    if (impl_->chain) impl_->chain->bss->filter = filter;
    if (impl_->brackets) impl_->brackets->bss->filter = filter;
}

ModuleStatus NetfilterProbe::status() const {
    ModuleStatus s;
    s.name = "netfilter";
    s.running = true;
    s.flavour = impl_->flavour.describe();
    if (impl_->brackets) s.flavour += fmt::format(" ({} hooks)", impl_->links.size());
    s.notes = impl_->notes;
    for (const std::string& n : impl_->plan.notes) s.notes.push_back(n);
    s.lost = read_losses(impl_->losses_fd, WGBPF_MOD_NETFILTER);
    return s;
}

struct DropProbe::Impl {
    DropFlavour flavour;
    DropSkel skel;
    int losses_fd = -1;
};

Result<std::unique_ptr<DropProbe>> DropProbe::start(const KernelFeatures& kernel, SharedMaps& maps,
                                                    uint32_t ringbuf_bytes) {
    auto impl = std::make_unique<Impl>();
    impl->flavour = choose_drop_flavour(kernel);
    if (!impl->flavour.can_run) return Error{impl->flavour.why_not};
    impl->skel.reset(wgbpf_drop_bpf__open());
    if (!impl->skel) return Error{"cannot open the drop BPF object: " + errno_text(errno)};
    impl->skel->rodata->packet_id_key = packet_id_key();
    bpf_program__set_autoload(impl->skel->progs.drop_kfree_skb_reason, impl->flavour.with_reason);
    bpf_program__set_autoload(impl->skel->progs.drop_kfree_skb_noreason, !impl->flavour.with_reason);
    if (auto r = maps.reuse_in(impl->skel->maps.events, impl->skel->maps.losses, impl->skel->maps.watched, ringbuf_bytes);
        !r)
        return Error{r.error()};
    if (int err = wgbpf_drop_bpf__load(impl->skel.get())) return Error{"the kernel refused the drop programs: " + errno_text(err)};
    if (int err = wgbpf_drop_bpf__attach(impl->skel.get())) return Error{"cannot attach to kfree_skb: " + errno_text(err)};
    maps.adopt_from(impl->skel->maps.events, impl->skel->maps.losses, impl->skel->maps.watched);
    impl->losses_fd = maps.losses;
    return std::unique_ptr<DropProbe>(new DropProbe(std::move(impl)));
}

DropProbe::DropProbe(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DropProbe::~DropProbe() = default;

ModuleStatus DropProbe::status() const {
    ModuleStatus s;
    s.name = "drop";
    s.running = true;
    s.flavour = impl_->flavour.describe();
    s.lost = read_losses(impl_->losses_fd, WGBPF_MOD_DROP);
    return s;
}

} // namespace wgbpf
