#include "timeline/wireguard_link.hpp"

#include <netinet/in.h>

#include <algorithm>

namespace wgbpf {
namespace {

uint32_t le32(const std::array<uint8_t, 16>& b, size_t at) {
    return uint32_t(b[at]) | uint32_t(b[at + 1]) << 8 | uint32_t(b[at + 2]) << 16 | uint32_t(b[at + 3]) << 24;
}

uint64_t le64(const std::array<uint8_t, 16>& b, size_t at) { return le32(b, at) | uint64_t(le32(b, at + 4)) << 32; }

bool is_endpoint(const WgPeer& peer, const IpAddress& a, uint16_t port) {
    return peer.endpoint && peer.endpoint->address == a && peer.endpoint->port == port;
}

std::string endpoint_text(const IpAddress& a, uint16_t port) { return WgEndpoint{a, port}.to_string(); }

} // namespace

std::optional<WgMessage> parse_wg_message(const PacketInfo& pkt) {
    if (!pkt.is_ip || pkt.proto != IPPROTO_UDP || !pkt.has_udp_payload) return std::nullopt;
    const auto& b = pkt.udp_payload;
    if (b[1] != 0 || b[2] != 0 || b[3] != 0) return std::nullopt; // reserved bytes
    WgMessage m;
    m.length = pkt.udp_payload_len();
    switch (b[0]) {
    case 1:
        if (m.length != 148) return std::nullopt;
        m.type = WgMessageType::handshake_initiation;
        m.sender_index = le32(b, 4);
        break;
    case 2:
        if (m.length != 92) return std::nullopt;
        m.type = WgMessageType::handshake_response;
        m.sender_index = le32(b, 4);
        m.receiver_index = le32(b, 8);
        break;
    case 3:
        if (m.length != 64) return std::nullopt;
        m.type = WgMessageType::cookie_reply;
        m.receiver_index = le32(b, 4);
        break;
    case 4:
        if (m.length < 32) return std::nullopt;
        m.type = WgMessageType::transport_data;
        m.receiver_index = le32(b, 4);
        m.counter = le64(b, 8);
        break;
    default: return std::nullopt;
    }
    return m;
}

std::optional<WgOuterMatch> match_outer_packet(const PacketInfo& pkt, bool outgoing, const std::vector<WgInterface>& wg,
                                               uint32_t netns) {
    if (!pkt.is_ip || pkt.proto != IPPROTO_UDP || !pkt.has_l4) return std::nullopt;
    uint16_t local_port = outgoing ? pkt.sport : pkt.dport;
    const IpAddress& remote = outgoing ? pkt.dst : pkt.src;
    uint16_t remote_port = outgoing ? pkt.dport : pkt.sport;

    std::optional<WgOuterMatch> best;
    for (const WgInterface& w : wg) {
        if (netns && !sends_from(w, netns)) continue; // its socket is elsewhere: its outer packets are too
        const WgPeer* peer = nullptr;
        for (const WgPeer& p : w.peers)
            if (is_endpoint(p, remote, remote_port)) peer = &p;
        bool port = w.listen_port != 0 && w.listen_port == local_port;
        if (port && peer) return WgOuterMatch{&w, peer}; // both agree: no better match exists
        if ((port || peer) && !best) best = WgOuterMatch{&w, peer};
    }
    return best;
}

const WgPeer* peer_for_address(const WgInterface& wg, const IpAddress& a) {
    const WgPeer* best = nullptr;
    int best_len = -1;
    for (const WgPeer& p : wg.peers)
        for (const IpPrefix& prefix : p.allowed_ips)
            if (prefix.contains(a) && prefix.length > best_len) {
                best = &p;
                best_len = prefix.length;
            }
    return best;
}

bool carries_inner(uint16_t outer_payload_len, uint16_t inner_len) {
    if (inner_len == 0 || outer_payload_len < 32) return false;
    unsigned padded = outer_payload_len - 32u;
    unsigned rounded = (inner_len + 15u) / 16u * 16u;
    return padded >= inner_len && padded <= rounded;
}

WireguardStep wireguard_step(const WgMessage& m, const WgOuterMatch& match, const PacketInfo& pkt, bool outgoing,
                             uint64_t t_ns) {
    WireguardStep s;
    s.t_ns = t_ns;
    s.direction = outgoing ? WgDirection::out : WgDirection::in;
    switch (m.type) {
    case WgMessageType::handshake_initiation: s.action = WgAction::handshake_initiation; break;
    case WgMessageType::handshake_response: s.action = WgAction::handshake_response; break;
    case WgMessageType::cookie_reply: s.action = WgAction::cookie_reply; break;
    case WgMessageType::transport_data:
        s.action = m.keepalive() ? WgAction::keepalive : outgoing ? WgAction::encrypt : WgAction::decrypt;
        break;
    }
    if (match.interface) s.interface = match.interface->name;
    if (match.peer) s.peer = match.peer->public_key;
    s.endpoint = outgoing ? endpoint_text(pkt.dst, pkt.dport) : endpoint_text(pkt.src, pkt.sport);
    s.sender_index = m.sender_index;
    s.receiver_index = m.receiver_index;
    s.counter = m.counter;
    return s;
}

WireguardLinker::WireguardLinker(uint64_t window_ns, size_t max_queue) : window_ns_(window_ns), max_queue_(max_queue) {}

std::optional<WgLinkEnd> WireguardLinker::pair(std::deque<WgLinkEnd>& others, std::deque<WgLinkEnd>* mine,
                                               const WgLinkEnd& end, bool end_is_inner, bool by_packet_id) {
    auto too_old = [&](const WgLinkEnd& e) { return e.t_ns + window_ns_ < end.t_ns; };
    while (!others.empty() && too_old(others.front())) {
        waiting_.erase(others.front().timeline);
        others.pop_front();
    }
    for (auto it = others.begin(); it != others.end(); ++it) {
        bool fits = by_packet_id   ? it->packet_id == end.packet_id
                    : end_is_inner ? carries_inner(it->length, end.length)
                                   : carries_inner(end.length, it->length);
        if (!fits || it->t_ns > end.t_ns + window_ns_) continue;
        WgLinkEnd found = *it;
        others.erase(it);
        waiting_.erase(found.timeline);
        return found;
    }
    if (!mine) return std::nullopt;
    if (mine->size() >= max_queue_) {
        waiting_.erase(mine->front().timeline);
        mine->pop_front();
    }
    mine->push_back(end);
    waiting_.insert(end.timeline);
    return std::nullopt;
}

std::optional<WgLinkEnd> WireguardLinker::add_inner(const WgLinkKey& key, const WgLinkEnd& inner) {
    Queues& q = queues_[key];
    return pair(q.outers, &q.inners, inner, true, key.by_packet_id);
}

std::optional<WgLinkEnd> WireguardLinker::take_outer(const WgLinkKey& key, const WgLinkEnd& inner) {
    auto it = queues_.find(key);
    if (it == queues_.end()) return std::nullopt;
    return pair(it->second.outers, nullptr, inner, true, key.by_packet_id);
}

std::optional<WgLinkEnd> WireguardLinker::add_outer(const WgLinkKey& key, const WgLinkEnd& outer) {
    Queues& q = queues_[key];
    return pair(q.inners, &q.outers, outer, false, key.by_packet_id);
}

bool WireguardLinker::waiting(uint64_t timeline) const { return waiting_.contains(timeline); }

void WireguardLinker::forget(uint64_t timeline) {
    if (!waiting_.erase(timeline)) return;
    for (auto& [key, q] : queues_) {
        std::erase_if(q.inners, [&](const WgLinkEnd& e) { return e.timeline == timeline; });
        std::erase_if(q.outers, [&](const WgLinkEnd& e) { return e.timeline == timeline; });
    }
}

std::vector<std::pair<WgLinkKey, WgLinkEnd>> WireguardLinker::expire(uint64_t now_ns) {
    std::vector<std::pair<WgLinkKey, WgLinkEnd>> outers;
    auto old = [&](const WgLinkEnd& e) { return now_ns >= e.t_ns && now_ns - e.t_ns >= window_ns_; };
    for (auto it = queues_.begin(); it != queues_.end();) {
        for (bool outer : {false, true}) {
            auto& q = outer ? it->second.outers : it->second.inners;
            std::erase_if(q, [&](const WgLinkEnd& e) {
                if (!old(e)) return false;
                waiting_.erase(e.timeline);
                if (outer) outers.emplace_back(it->first, e);
                return true;
            });
        }
        if (it->second.inners.empty() && it->second.outers.empty()) it = queues_.erase(it);
        else ++it;
    }
    return outers;
}

} // namespace wgbpf
