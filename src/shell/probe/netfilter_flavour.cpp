#include "probe/netfilter_flavour.hpp"

namespace wgbpf {

NetfilterFlavour choose_netfilter_flavour(const KernelFeatures& kernel) {
    NetfilterFlavour f;
    bool has_do_chain = kernel.function_arg_count("nft_do_chain").has_value() ||
                        kernel.function_arg_count("nft_do_chain", "nf_tables").has_value();
    if (!has_do_chain) {
        f.notes.push_back("exact chains unavailable: nft_do_chain not in kernel BTF (nf_tables not loaded?)");
    } else if (auto refused = kernel.fexit_refused()) {
        f.notes.push_back("exact chains unavailable: " + *refused);
    } else {
        f.kind = NetfilterFlavour::Kind::exact;
        return f;
    }
    if (auto refused = kernel.netfilter_link_refused()) {
        f.can_run = CanRun::no(*refused + "; " + (f.notes.empty() ? std::string() : f.notes.back()));
        return f;
    }
    f.kind = NetfilterFlavour::Kind::brackets;
    return f;
}

std::string NetfilterFlavour::describe() const {
    if (!can_run) return "none";
    switch (kind) {
    case Kind::exact: return "fentry/fexit nft_do_chain (exact)";
    case Kind::brackets: return "netfilter links bracketing each base chain";
    }
    return "none";
}

DropFlavour choose_drop_flavour(const KernelFeatures& kernel) {
    DropFlavour f;
    auto args = kernel.tracepoint_arg_count("kfree_skb");
    if (!args) {
        f.can_run = CanRun::no("no BTF tracepoint kfree_skb");
        return f;
    }
    f.with_reason = *args >= 3;
    return f;
}

std::string DropFlavour::describe() const {
    if (!can_run) return "none";
    return with_reason ? "tp_btf kfree_skb (with drop reason)" : "tp_btf kfree_skb (no drop reasons before 5.17)";
}

} // namespace wgbpf
