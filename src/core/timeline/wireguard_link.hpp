#pragma once
// WireGuard as the timelines see it (pure): which UDP packets are WireGuard's, what message they carry
// (kernel-notes §6), and which inner packet an outer one carries. A user-space implementation over TUN
// (wireguard-go) builds a new packet for the ciphertext, so inner and outer share no packet id: they are
// paired by peer, order and length (outer UDP payload = 32 + inner length padded to 16, kernel-notes §5).
// The kernel's WireGuard encrypts and decrypts the skb in place (kernel-notes §4): inner and outer are the
// same packet id, and are paired by it, exactly.
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "event/packet_info.hpp"
#include "timeline/packet_timeline.hpp"
#include "wireguard/wg_config.hpp"

namespace wgbpf {

enum class WgMessageType : uint8_t {
    handshake_initiation = 1,
    handshake_response = 2,
    cookie_reply = 3,
    transport_data = 4,
};

struct WgMessage {
    WgMessageType type = WgMessageType::transport_data;
    uint16_t length = 0;                    // UDP payload length
    std::optional<uint32_t> sender_index;   // initiation, response
    std::optional<uint32_t> receiver_index; // response, cookie reply, transport data
    std::optional<uint64_t> counter;        // transport data
    bool keepalive() const { return type == WgMessageType::transport_data && length == 32; }
};

// The message in a packet's UDP payload; nullopt when there is none or it is not a valid WireGuard
// message (unknown type, non-zero reserved bytes, a length that does not fit the type).
std::optional<WgMessage> parse_wg_message(const PacketInfo& pkt);

// Whose outer packet this is. `outgoing`: sent by this host (the local port is the source port).
struct WgOuterMatch {
    const WgInterface* interface = nullptr;
    const WgPeer* peer = nullptr; // nullptr: no peer has this endpoint (roamed, or not known yet)
};
// A UDP packet is WireGuard's when its local port is an interface's listen port or its remote
// address:port is a peer's endpoint. Only interfaces that send from `netns` (the packet's namespace)
// are considered (0: every interface of `wg`).
std::optional<WgOuterMatch> match_outer_packet(const PacketInfo& pkt, bool outgoing, const std::vector<WgInterface>& wg,
                                               uint32_t netns = 0);

// The peer whose allowed IPs contain `a` (longest prefix), as WireGuard's cryptokey routing picks it.
const WgPeer* peer_for_address(const WgInterface& wg, const IpAddress& a);

// Could an outer UDP payload of `outer_payload_len` bytes carry an inner packet of `inner_len` bytes?
// 32 bytes of header and tag, the inner packet padded to 16 (but never past the interface MTU, which
// wgbpf does not know: any padding up to the next multiple of 16 is accepted).
bool carries_inner(uint16_t outer_payload_len, uint16_t inner_len);

// The timeline step for an outer packet's message: "encrypt"/"decrypt" for data, "keepalive", handshakes.
WireguardStep wireguard_step(const WgMessage& m, const WgOuterMatch& match, const PacketInfo& pkt, bool outgoing,
                             uint64_t t_ns);

// Inner and outer packets of one peer and direction waiting for each other.
struct WgLinkKey {
    uint32_t netns = 0;
    std::string interface;
    std::string peer; // public key; "" when pairing by packet id (any peer)
    bool outgoing = true;
    bool by_packet_id = false; // kernel WireGuard: the outer packet is the inner's own skb
    auto operator<=>(const WgLinkKey&) const = default;
};

struct WgLinkEnd {
    uint64_t timeline = 0; // timeline id
    uint64_t t_ns = 0;
    uint16_t length = 0;    // inner: IP total length; outer: UDP payload length
    WireguardStep step;     // outer: its message (the inner's timeline gets a copy)
    uint64_t packet_id = 0; // the keyed skb hash (pairing by packet id)
};

// Pairs each outer transport-data packet with the oldest waiting inner packet of the same peer and
// direction whose length fits (or, for keys `by_packet_id`, the one with the same packet id), whichever
// of the two is seen first. Waiting is bounded by `window_ns`
// (and a per-queue cap): what is not paired by then stays unlinked.
class WireguardLinker {
public:
    explicit WireguardLinker(uint64_t window_ns = 50'000'000, size_t max_queue = 1024);

    std::optional<WgLinkEnd> add_inner(const WgLinkKey& key, const WgLinkEnd& inner); // the outer it pairs with
    std::optional<WgLinkEnd> add_outer(const WgLinkKey& key, const WgLinkEnd& outer); // the inner it pairs with
    // Pairs an inner packet with a waiting outer packet of `key` only; never queues it.
    std::optional<WgLinkEnd> take_outer(const WgLinkKey& key, const WgLinkEnd& inner);
    bool waiting(uint64_t timeline) const;
    void forget(uint64_t timeline); // a dropped packet carries nothing
    // Drops what waited longer than the window; returns the outer packets among them (unpaired), with their keys.
    std::vector<std::pair<WgLinkKey, WgLinkEnd>> expire(uint64_t now_ns);
    size_t queued() const { return waiting_.size(); }

private:
    struct Queues {
        std::deque<WgLinkEnd> inners, outers;
    };
    std::optional<WgLinkEnd> pair(std::deque<WgLinkEnd>& others, std::deque<WgLinkEnd>* mine, const WgLinkEnd& end,
                                  bool end_is_inner, bool by_packet_id);
    uint64_t window_ns_;
    size_t max_queue_;
    std::map<WgLinkKey, Queues> queues_;
    std::unordered_set<uint64_t> waiting_;
};

} // namespace wgbpf
