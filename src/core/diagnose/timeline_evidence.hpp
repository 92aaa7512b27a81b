#pragma once
// `wgbpf diagnose`'s reading of the packets it watched (pure): WireGuard's verdicts, outer packets dropped by
// a chain, failed rp_filter checks, forwarding refused, outer packets too big for their device, handshake
// health per peer, and route decisions that differ from what the configuration predicts. Bounded: counts
// and a few example packet ids per finding, whatever the number of timelines.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <string>
#include <string_view>
#include <vector>

#include "config/netns_config.hpp"
#include "diagnose/finding.hpp"
#include "timeline/packet_timeline.hpp"
#include "wireguard/wg_config.hpp"

namespace wgbpf {

// Handshake messages and data seen for one peer of one interface.
struct PeerHealth {
    std::string interface;
    std::string peer;     // base64 public key; "" when the packets' endpoint belongs to no known peer
    std::string endpoint; // as last seen
    uint64_t initiations_sent = 0, initiations_received = 0;
    uint64_t responses_sent = 0, responses_received = 0;
    uint64_t cookies_sent = 0, cookies_received = 0;
    uint64_t rejected = 0;                     // handshake messages from it WireGuard refused (kernel: exact)
    uint64_t data_sent = 0, data_received = 0; // transport data, keepalives included
    uint64_t last_initiation_id = 0;           // timeline of the last initiation sent
    std::string last_initiation_where;         // where that initiation was last seen
    uint64_t last_handshake_ns = 0;            // a response sent or received: a completed handshake
    std::optional<int64_t> wireguard_last_handshake_unix_s; // as WireGuard keeps it (0: never), when read
};

class TimelineEvidence {
public:
    explicit TimelineEvidence(size_t examples = 5) : examples_(examples) {}

    // `cfg`: the watched namespace's configuration (for MTUs, forwarding, predicted routes); may be null.
    void add(const PacketTimeline& t, const NetnsConfig* cfg);

    // `end_ns`: when the watch ended, on the events' clock (CLOCK_MONOTONIC); 0: at the last event seen.
    std::vector<Finding> findings(const std::vector<WgInterface>& wireguard, uint64_t end_ns = 0) const;
    std::vector<PeerHealth> health() const;
    uint64_t timelines() const { return timelines_; }
    uint64_t routes_compared() const { return routes_compared_; }
    uint64_t last_ns() const { return last_ns_; }
    uint64_t untracked_peers() const { return untracked_; } // peers seen beyond the bound
    // Packets of this peer came out of the interface (decrypted) while none of its outer packets was seen here:
    // its outer packets travel in another namespace (an interface moved out of its birthplace namespace).
    bool reached_elsewhere(const WgInterface& w, const WgPeer& p) const;

private:
    // How many packets, and the first few of them by timeline id.
    struct Sample {
        uint64_t count = 0;
        std::vector<uint64_t> ids;
        void add(uint64_t id, size_t examples);
        void merge(const Sample& other, size_t examples);
        std::string text(std::string_view what = "") const; // "3 packets<what>: #1, #2, #3"
    };
    struct Group {
        Finding finding;
        Sample sample;
        std::string endpoint; // WireGuard verdicts: the endpoint of the packets (peer unknown)
    };
    Group* count(FindingKind kind, const std::string& key, const PacketTimeline& t,
                 const std::function<Finding()>& make);
    void wireguard_step(const PacketTimeline& t, const WireguardStep& w, const NetnsConfig* cfg);
    void compare_route(const PacketTimeline& t, const RouteDecision& d, const NetnsConfig& cfg);
    PeerHealth& peer(const std::string& interface, const std::string& peer, const std::string& endpoint);
    void forwarded(const PacketTimeline& t);

    size_t examples_;
    uint64_t timelines_ = 0;
    uint64_t routes_compared_ = 0;
    uint64_t last_ns_ = 0;
    std::map<std::pair<FindingKind, std::string>, Group> groups_;
    // UDP route decisions by (destination, port, device): an endpoint's routed into its own tunnel is a loop,
    // decided in findings() where the interfaces are known.
    struct UdpRoute {
        Sample sample;
        std::string decision;
    };
    std::map<std::tuple<IpAddress, uint16_t, std::string>, UdpRoute> udp_routes_;
    std::map<std::pair<std::string, IpAddress>, uint64_t> inner_sources_; // (device, source) of packets received on it
    // Packets that came out of a tunnel and were forwarded out of another device with their private source
    // unchanged, by (tunnel, device, source, destination); and the (source, destination) pairs seen coming back.
    struct Forwarded {
        Sample sample;
        uint64_t last_ns = 0;
    };
    std::map<std::tuple<std::string, std::string, IpAddress, IpAddress>, Forwarded> unnatted_; // bounded: 1024
    std::map<std::pair<IpAddress, IpAddress>, std::pair<std::string, std::string>>
        candidate_flows_;                                    // -> (tunnel, uplink)
    std::set<std::pair<std::string, std::string>> answered_; // (tunnel, uplink) with a reply seen
    static constexpr size_t kMaxPeers = 4096;
    std::map<std::pair<std::string, std::string>, PeerHealth> peers_; // (interface, peer or endpoint)
    PeerHealth untracked_peer_;                                       // beyond kMaxPeers: counted, not kept
    uint64_t untracked_ = 0;
};

} // namespace wgbpf
