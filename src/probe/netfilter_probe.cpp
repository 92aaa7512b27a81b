#include "wgbpf/probe/netfilter_probe.hpp"

#include <bpf/bpf.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "nf_bracket.skel.h"
#include "nf_chain.skel.h"
#include "wgbpf/bpf/libbpf_raii.hpp"
#include "wgbpf/probe/shared_load.hpp"

namespace wgbpf {

using BracketSkel = SkeletonPtr<wgbpf_nf_bracket_bpf, wgbpf_nf_bracket_bpf__destroy>;
using ChainSkel = SkeletonPtr<wgbpf_nf_chain_bpf, wgbpf_nf_chain_bpf__destroy>;

namespace {

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

} // namespace


struct NetfilterProbe::Impl {
    NetfilterFlavour flavour;
    ChainSkel chain;
    BracketSkel brackets;
    const NetnsHandle* ns = nullptr;
    BracketPlan plan;
    std::vector<LinkPtr> links;
    int losses_fd = -1;
    std::vector<std::string> notes;

    TakenPriorities taken; // where the kernel refused a hook (EBUSY): never tried again in this run

    // Attaches every bracket of `p` under generation `p.generation`; on a priority the kernel says is
    // taken (another hook there: conntrack, defrag, another program's link), returns that bracket.
    Result<std::optional<Bracket>> place(const BracketPlan& p) {
        brackets->bss->generation = p.generation; // events of an abandoned placement carry an older one
        // Re-routes: a watched packet is in the output hook from its first output bracket to the last.
        for (uint32_t i = 0; i < kMaxBrackets; ++i) {
            uint8_t role = 0;
            if (i < p.brackets.size() && p.brackets[i].hook == NfHook::output) {
                bool last = i + 1 == p.brackets.size() || p.brackets[i + 1].hook != NfHook::output ||
                            p.brackets[i + 1].pf != p.brackets[i].pf;
                role = last ? WGBPF_HOOK_LEAVE : WGBPF_HOOK_ENTER;
            }
            brackets->bss->hook_role[i] = role;
        }
        for (uint32_t i = 0; i < p.brackets.size() && i < kMaxBrackets; ++i) {
            const Bracket& b = p.brackets[i];
            std::string name = fmt::format("nf_bracket_{}", i);
            bpf_program* prog = bpf_object__find_program_by_name(brackets->obj, name.c_str());
            if (!prog) return Error{"missing BPF program " + name};
            LIBBPF_OPTS(bpf_netfilter_opts, opts, .pf = b.pf, .hooknum = static_cast<uint32_t>(b.hook),
                        .priority = b.priority);
            LinkPtr link(bpf_program__attach_netfilter(prog, &opts));
            if (!link && (errno == EBUSY || errno == EEXIST)) return std::optional<Bracket>(b);
            if (!link)
                return Error{fmt::format("cannot attach a netfilter hook at {} priority {}: {}",
                                         hook_name(b.hook), b.priority, errno_text(errno))};
            links.push_back(std::move(link));
        }
        return std::optional<Bracket>();
    }

    Result<void> attach_brackets(const NftRuleset& ruleset) {
        BracketPlan next = plan_brackets(ruleset, plan.generation + 1, taken);
        if (!links.empty() && next.brackets == plan.brackets) {
            // Same hook points and priorities (e.g. only rules changed): keep the hooks and their
            // generation, so packets in flight are not lost; only the chains' names and rules change.
            next.generation = plan.generation;
            plan = std::move(next);
            return {};
        }
        links.clear(); // old brackets go first: two hooks at one priority would be refused (EBUSY)
        auto scope = NetnsScope::enter(*ns); // netfilter links attach to the caller's namespace
        if (!scope) return Error{scope.error()};
        constexpr int kMaxPlacements = 64;
        for (int attempt = 1;; ++attempt) {
            auto refused = place(next);
            if (!refused) {
                links.clear();
                return Error{refused.error()};
            }
            if (!*refused) break;
            links.clear();
            if (attempt == kMaxPlacements)
                return Error{fmt::format("cannot place netfilter hooks: {} priorities were taken by other hooks",
                                         taken.size() + 1)};
            taken.insert(**refused);
            next = plan_brackets(ruleset, next.generation + 1, taken);
        }
        plan = std::move(next);
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
        if (auto r = load_shared(impl->chain.get(), wgbpf_nf_chain_bpf__load, maps, ringbuf_bytes, "nft_do_chain"); !r)
            return Error{r.error()};
        impl->chain->bss->filter = filter;
        if (int err = wgbpf_nf_chain_bpf__attach(impl->chain.get()))
            return Error{"cannot attach to nft_do_chain: " + errno_text(err)};
    } else {
        impl->brackets.reset(wgbpf_nf_bracket_bpf__open());
        if (!impl->brackets) return Error{"cannot open the netfilter BPF object: " + errno_text(errno)};
        if (auto r = load_shared(impl->brackets.get(), wgbpf_nf_bracket_bpf__load, maps, ringbuf_bytes,
                                 "netfilter link");
            !r)
            return Error{r.error()};
        impl->brackets->bss->filter = filter;
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

} // namespace wgbpf
