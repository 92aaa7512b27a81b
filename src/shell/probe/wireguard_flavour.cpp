#include "probe/wireguard_flavour.hpp"

namespace wgbpf {

WireguardFlavour choose_wireguard_flavour(const KernelFeatures& kernel) {
    WireguardFlavour f;
    // Both lookups take (table, skb); a module whose BTF lacks them is not the WireGuard this reads.
    for (const char* fn : {"wg_allowedips_lookup_dst", "wg_allowedips_lookup_src"}) {
        if (kernel.function_arg_count(fn, "wireguard") != 2) {
            f.can_run =
                CanRun::no("no kernel WireGuard (module wireguard not loaded, or without BTF for " + std::string(fn) +
                           "): user-space implementations are linked by peer, order and length");
            return f;
        }
    }
    // Received messages' verdicts: the MAC and cookie check, the Noise consume calls, and the lookups inside them
    // and inside wg_packet_receive that name the cause (an unknown key or receiver index).
    f.handshakes = kernel.function_arg_count("wg_cookie_validate_packet", "wireguard") == 3 &&
                   kernel.function_arg_count("wg_noise_handshake_consume_initiation", "wireguard") == 2 &&
                   kernel.function_arg_count("wg_noise_handshake_consume_response", "wireguard") == 2 &&
                   kernel.function_arg_count("wg_packet_receive", "wireguard") == 2 &&
                   kernel.function_arg_count("wg_index_hashtable_lookup", "wireguard") == 4 &&
                   kernel.function_arg_count("wg_pubkey_hashtable_lookup", "wireguard") == 2;
    if (!f.handshakes)
        f.notes.push_back("handshake verdicts not watched: the module's BTF lacks wg_cookie_validate_packet, "
                          "wg_noise_handshake_consume_initiation/response, wg_packet_receive or the index/pubkey "
                          "lookups with the expected arguments");
    f.decrypts =
        kernel.function_arg_count("decrypt_packet", "wireguard") == 2 && !kernel.function_arg_count("decrypt_packet");
    if (!f.decrypts)
        f.notes.push_back(
            "data messages that do not decrypt are not watched: the module's BTF lacks decrypt_packet(skb, "
            "keypair), or vmlinux has a function of that name too");
    f.purges = kernel.function_arg_count("wg_packet_purge_staged_packets", "wireguard") == 1;
    if (!f.purges)
        f.notes.push_back("packets queued for a handshake and then dropped are not watched: the module's BTF lacks "
                          "wg_packet_purge_staged_packets(peer)");
    auto fexit_refused = kernel.fexit_refused();
    if (!fexit_refused) {
        f.kind = WireguardFlavour::Kind::fexit;
        return f;
    }
    f.notes.insert(f.notes.begin(), "fexit unavailable: " + *fexit_refused);
    if (auto refused = kernel.kprobe_refused()) {
        f.can_run = CanRun::no(*refused + "; " + f.notes.front());
        return f;
    }
    f.kind = WireguardFlavour::Kind::kprobe;
    return f;
}

std::string WireguardFlavour::describe() const {
    if (!can_run) return "none";
    switch (kind) {
    case Kind::fexit:
        return std::string("fexit wg_allowedips_lookup_dst/src") + (handshakes ? ", handshake verdicts" : "") +
               (decrypts ? ", decryption failures" : "") + (purges ? ", queue purges" : "");
    case Kind::kprobe:
        return std::string("kprobe+kretprobe wg_allowedips_lookup_dst/src") +
               (handshakes ? ", handshake verdicts" : "") + (decrypts ? ", decryption failures" : "") +
               (purges ? ", queue purges" : "");
    }
    return "none";
}

} // namespace wgbpf
