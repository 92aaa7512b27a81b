#include "wgbpf/probe/wireguard_flavour.hpp"

namespace wgbpf {

WireguardFlavour choose_wireguard_flavour(const KernelFeatures& kernel) {
    WireguardFlavour f;
    // Both lookups take (table, skb); a module whose BTF lacks them is not the WireGuard this reads.
    for (const char* fn : {"wg_allowedips_lookup_dst", "wg_allowedips_lookup_src"}) {
        if (kernel.function_arg_count(fn, "wireguard") != 2) {
            f.why_not = "no kernel WireGuard (module wireguard not loaded, or without BTF for " + std::string(fn) +
                        "): user-space implementations are linked by peer, order and length";
            return f;
        }
    }
    if (auto refused = kernel.fexit_refused()) {
        f.notes.push_back("fexit unavailable: " + *refused);
    } else {
        f.kind = WireguardFlavour::Kind::fexit;
        return f;
    }
    if (auto refused = kernel.kprobe_refused()) {
        f.why_not = *refused + "; " + f.notes.back();
        return f;
    }
    f.kind = WireguardFlavour::Kind::kprobe;
    return f;
}

std::string WireguardFlavour::describe() const {
    switch (kind) {
    case Kind::fexit: return "fexit wg_allowedips_lookup_dst/src";
    case Kind::kprobe: return "kprobe+kretprobe wg_allowedips_lookup_dst/src";
    case Kind::none: return "none";
    }
    return "none";
}

} // namespace wgbpf
