#include "probe/netfilter_probe.hpp"

#include <bpf/bpf.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "nf_bracket.skel.h"
#include "nf_chain.skel.h"
#include "loader/libbpf_raii.hpp"
#include "probe/shared_load.hpp"

namespace wgbpf {

using BracketSkel = SkeletonPtr<wgbpf_nf_bracket_bpf, wgbpf_nf_bracket_bpf__destroy>;
using ChainSkel = SkeletonPtr<wgbpf_nf_chain_bpf, wgbpf_nf_chain_bpf__destroy>;

namespace {

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

} // namespace

// Brackets in one namespace: netfilter links attach in the namespace of the thread that makes them.
struct NamespaceBrackets {
    const NetnsHandle* ns = nullptr;
    BracketPlan plan;
    std::vector<LinkPtr> links;
    TakenPriorities taken; // where the kernel refused a hook (EBUSY): never tried again in this run
};

struct NetfilterProbe::Impl {
    NetfilterFlavour flavour;
    ChainSkel chain;
    BracketSkel brackets;
    std::vector<std::unique_ptr<NamespaceBrackets>> namespaces; // stable addresses: plans are handed out
    std::vector<std::string> notes;

    NamespaceBrackets* find(uint32_t netns) const {
        for (const auto& n : namespaces)
            if (n->ns->inode() == netns) return n.get();
        return nullptr;
    }

    // The namespace's generation and slot roles, for its packets' events (written before its hooks exist).
    Result<void> publish(const NamespaceBrackets& n, const BracketPlan& p) {
        struct {
            uint32_t generation;
            uint8_t hook_role[32];
        } state{};
        static_assert(sizeof(state) == 36, "bracket_plan_state ABI (nf_bracket.bpf.c)");
        state.generation = p.generation; // events of an abandoned placement carry an older one
        // Re-routes: a watched packet is in the output hook from its first output bracket to the last.
        for (uint32_t i = 0; i < p.brackets.size() && i < kMaxBrackets; ++i) {
            if (p.brackets[i].hook != NfHook::output) continue;
            bool last = i + 1 == p.brackets.size() || p.brackets[i + 1].hook != NfHook::output ||
                        p.brackets[i + 1].pf != p.brackets[i].pf;
            state.hook_role[i] = last ? WGBPF_HOOK_LEAVE : WGBPF_HOOK_ENTER;
        }
        uint32_t key = n.ns->inode();
        if (bpf_map_update_elem(bpf_map__fd(brackets->maps.bracket_plans), &key, &state, BPF_ANY) != 0)
            return Error{
                fmt::format("cannot write the bracket plan of {}: {}", n.ns->description(), errno_text(errno))};
        return {};
    }

    // Attaches every bracket of `p` in `n`'s namespace; on a priority the kernel says is taken (another hook
    // there: conntrack, defrag, another program's link), returns that bracket.
    Result<std::optional<Bracket>> place(NamespaceBrackets& n, const BracketPlan& p) {
        if (auto r = publish(n, p); !r) return r;
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
                return Error{fmt::format("cannot attach a netfilter hook at {} priority {}: {}", hook_name(b.hook),
                                         b.priority, errno_text(errno))};
            n.links.push_back(std::move(link));
        }
        return std::optional<Bracket>();
    }

    Result<void> attach_brackets(NamespaceBrackets& n, const NftRuleset& ruleset) {
        BracketPlan next = plan_brackets(ruleset, n.plan.generation + 1, n.taken);
        if (!n.links.empty() && next.brackets == n.plan.brackets) {
            // Same hook points and priorities (e.g. only rules changed): keep the hooks and their
            // generation, so packets in flight are not lost; only the chains' names and rules change.
            next.generation = n.plan.generation;
            n.plan = std::move(next);
            return {};
        }
        n.links.clear(); // old brackets go first: two hooks at one priority would be refused (EBUSY)
        auto scope = NetnsScope::enter(*n.ns); // netfilter links attach to the caller's namespace
        if (!scope) return scope;
        constexpr int kMaxPlacements = 64;
        for (int attempt = 1;; ++attempt) {
            auto refused = place(n, next);
            if (!refused) {
                n.links.clear();
                return refused;
            }
            if (!*refused) break;
            n.links.clear();
            if (attempt == kMaxPlacements)
                return Error{fmt::format("cannot place netfilter hooks: {} priorities were taken by other hooks",
                                         n.taken.size() + 1)};
            n.taken.insert(**refused);
            next = plan_brackets(ruleset, next.generation + 1, n.taken);
        }
        n.plan = std::move(next);
        spdlog::debug("netfilter: {} brackets placed in {} (generation {})", n.links.size(), n.ns->description(),
                      n.plan.generation);
        return {};
    }
};

Result<std::unique_ptr<NetfilterProbe>> NetfilterProbe::start(const KernelFeatures& kernel, const wgbpf_filter& filter,
                                                              SharedMaps& maps, uint32_t ringbuf_bytes,
                                                              const NetnsHandle& ns, const NftRuleset& ruleset) {
    auto impl = std::make_unique<Impl>();
    impl->flavour = choose_netfilter_flavour(kernel);
    impl->notes = impl->flavour.notes;
    if (!impl->flavour.can_run) return Error{impl->flavour.can_run.why_not};

    if (impl->flavour.kind == NetfilterFlavour::Kind::exact) {
        auto chain = start_object<wgbpf_nf_chain_bpf, wgbpf_nf_chain_bpf__destroy>(
            wgbpf_nf_chain_bpf__open, wgbpf_nf_chain_bpf__load, wgbpf_nf_chain_bpf__attach, maps, ringbuf_bytes,
            {"cannot open the netfilter BPF object", "nft_do_chain", "cannot attach to nft_do_chain"}, &filter);
        if (!chain) return chain;
        impl->chain = std::move(chain.value());
    } else {
        impl->brackets.reset(wgbpf_nf_bracket_bpf__open());
        if (!impl->brackets) return Error{"cannot open the netfilter BPF object: " + errno_text(errno)};
        if (auto r =
                load_shared(impl->brackets.get(), wgbpf_nf_bracket_bpf__load, maps, ringbuf_bytes, "netfilter link");
            !r)
            return r;
        impl->brackets->bss->filter = filter;
    }
    auto probe = std::unique_ptr<NetfilterProbe>(new NetfilterProbe(std::move(impl)));
    if (auto r = probe->watch_namespace(ns, ruleset); !r) return r;
    return probe;
}

NetfilterProbe::NetfilterProbe(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NetfilterProbe::~NetfilterProbe() = default;

Result<void> NetfilterProbe::watch_namespace(const NetnsHandle& ns, const NftRuleset& ruleset) {
    if (!impl_->brackets || impl_->find(ns.inode())) return {};
    auto n = std::make_unique<NamespaceBrackets>();
    n->ns = &ns;
    if (auto r = impl_->attach_brackets(*n, ruleset); !r) return r;
    impl_->namespaces.push_back(std::move(n));
    return {};
}

Result<void> NetfilterProbe::update_ruleset(uint32_t netns, const NftRuleset& ruleset) {
    NamespaceBrackets* n = impl_->find(netns);
    if (!impl_->brackets || !n) return {};
    return impl_->attach_brackets(*n, ruleset);
}

const BracketPlan* NetfilterProbe::plan(uint32_t netns) const {
    const NamespaceBrackets* n = impl_->brackets ? impl_->find(netns) : nullptr;
    return n ? &n->plan : nullptr;
}

void NetfilterProbe::set_filter(const wgbpf_filter& filter) {
    if (impl_->chain) impl_->chain->bss->filter = filter;
    if (impl_->brackets) impl_->brackets->bss->filter = filter;
}

ModuleStatus NetfilterProbe::status() const {
    ModuleStatus s;
    s.module = ModuleId::netfilter;
    s.running = true;
    s.flavour = impl_->flavour.describe();
    size_t hooks = 0;
    for (const auto& n : impl_->namespaces) hooks += n->links.size();
    const size_t spaces = impl_->namespaces.size();
    if (impl_->brackets)
        s.flavour +=
            spaces > 1 ? fmt::format(" ({} hooks in {} namespaces)", hooks, spaces) : fmt::format(" ({} hooks)", hooks);
    s.notes = impl_->notes;
    for (const auto& n : impl_->namespaces)
        for (const std::string& note : n->plan.notes)
            s.notes.push_back((spaces > 1 ? n->ns->name() + ": " : "") + note);
    return s;
}

} // namespace wgbpf
