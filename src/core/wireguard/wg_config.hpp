#pragma once
// A WireGuard interface's configuration: from the kernel's "wireguard" generic netlink family, or
// from a user-space implementation's UAPI socket (/var/run/wireguard/IF.sock, wireguard-go).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/enum_names.hpp"
#include "common/ip_address.hpp"
#include "common/result.hpp"

namespace wgbpf {

struct WgEndpoint {
    IpAddress address;
    uint16_t port = 0;
    std::string to_string() const; // "203.0.113.123:51820", "[2001:db8::1]:51820"
};

struct WgPeer {
    std::string public_key; // base64
    std::optional<WgEndpoint> endpoint;
    std::vector<IpPrefix> allowed_ips;
    // When its last handshake completed (unix seconds), as WireGuard keeps it: 0 never; nullopt not known.
    std::optional<int64_t> last_handshake_unix_s;
};

// Where the configuration came from, and so how the packets are handled: the kernel module (its genetlink
// family; its probes see the skb itself) or a user-space implementation (its UAPI socket; a new skb).
enum class WgImplementation : uint8_t { kernel, uapi };
std::string_view name_of(WgImplementation i); // "kernel" | "uapi", the recordings' "source"

struct WgInterface {
    std::string name;
    WgImplementation implementation = WgImplementation::kernel;
    std::string public_key; // base64 (empty if unknown)
    uint16_t listen_port = 0;
    uint32_t fwmark = 0;
    std::vector<WgPeer> peers;
    // Where the interface is and where its UDP socket is (wireguard.com/netns: an interface moved out of the
    // namespace it was created in keeps its socket there). 0: the namespace whose configuration lists it.
    uint32_t netns = 0;
    uint32_t socket_netns = 0; // 0: where the interface is; or one of the two below
};
inline constexpr uint32_t kSocketNotWatched = UINT32_MAX;    // no watched namespace binds its port
inline constexpr uint32_t kSocketAmbiguous = UINT32_MAX - 1; // several do: which one is not known
// Its outer packets are in no namespace wgbpf can name (not watched, or not known which).
inline bool socket_unplaced(const WgInterface& wg) { return wg.socket_netns >= kSocketAmbiguous; }

// Whether `wg`, listed in the configuration of namespace `netns`, is an interface there (its inner
// packets), and whether its outer packets are sent and received there.
inline bool lives_in(const WgInterface& wg, uint32_t netns) { return !wg.netns || wg.netns == netns; }
inline bool sends_from(const WgInterface& wg, uint32_t netns) {
    return wg.socket_netns ? !socket_unplaced(wg) && wg.socket_netns == netns : lives_in(wg, netns);
}
// The namespace of the interface itself, for a WgInterface listed in `listed_in`'s configuration.
inline uint32_t home_netns(const WgInterface& wg, uint32_t listed_in) { return wg.netns ? wg.netns : listed_in; }

// Pure: parses the reply to "get=1\n\n" on a UAPI socket (keys in hex, as the protocol sends them).
Result<WgInterface> parse_uapi_get(std::string_view reply, std::string name);

// Base64 of 32 raw bytes (keys).
std::string key_to_base64(const uint8_t key[32]);
// A public key as messages name a peer: its first 8 characters and "..." ("(unknown)" when empty).
std::string short_key(const std::string& key);
std::optional<std::string> hex_key_to_base64(std::string_view hex);

} // namespace wgbpf
