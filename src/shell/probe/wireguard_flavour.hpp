#pragma once
// How the kernel WireGuard module runs: fexit on wg_allowedips_lookup_dst/src (and the handshake
// functions) where allowed, else kprobe + kretprobe pairs, else not at all (no wireguard.ko loaded, or no way to hook it). Without it,
// kernel WireGuard's inner and outer packets are still linked by packet id; only the peer the kernel
// chose is not known and is inferred from allowed IPs and endpoints.
#include <string>
#include <vector>

#include "loader/kernel_features.hpp"
#include "probe/can_run.hpp"

namespace wgbpf {

struct WireguardFlavour {
    CanRun can_run;
    enum class Kind { fexit, kprobe } kind = Kind::fexit; // when it can run
    std::vector<std::string> notes;                       // why fexit was not used; what is not watched
    // Handshake verdicts (wg_cookie_validate_packet, wg_noise_handshake_consume_*): false when the module's
    // BTF lacks one of them (the lookups still run).
    bool handshakes = false;
    // Data messages that do not decrypt (decrypt_packet, a static function of the module): false when its BTF
    // lacks it, or vmlinux has a function of that name too (the attachment would be ambiguous).
    bool decrypts = false;
    // The staged queue's purge (wg_packet_purge_staged_packets): packets that waited for a handshake, dropped.
    bool purges = false;
    std::string describe() const;
};

WireguardFlavour choose_wireguard_flavour(const KernelFeatures& kernel);

} // namespace wgbpf
