#include "netlink/wg_genl_parse.hpp"

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "netlink/nl_attr.hpp"

namespace wgbpf {
namespace {

std::optional<std::string> get_key(const nlattr* a) {
    if (mnl_attr_get_payload_len(a) != WG_KEY_LEN) return std::nullopt;
    return key_to_base64(static_cast<const uint8_t*>(mnl_attr_get_payload(a)));
}

std::optional<WgEndpoint> get_endpoint(const nlattr* a) {
    size_t len = mnl_attr_get_payload_len(a);
    const void* p = mnl_attr_get_payload(a);
    if (len >= sizeof(sockaddr_in)) {
        sockaddr_in sin;
        std::memcpy(&sin, p, sizeof sin);
        if (sin.sin_family == AF_INET) return WgEndpoint{IpAddress::v4(sin.sin_addr.s_addr), ntohs(sin.sin_port)};
    }
    if (len >= sizeof(sockaddr_in6)) {
        sockaddr_in6 sin6;
        std::memcpy(&sin6, p, sizeof sin6);
        if (sin6.sin6_family == AF_INET6)
            return WgEndpoint{IpAddress::from_bytes(Family::ipv6, sin6.sin6_addr.s6_addr), ntohs(sin6.sin6_port)};
    }
    return std::nullopt;
}

std::optional<IpPrefix> get_allowed_ip(const nlattr* nest) {
    std::optional<uint16_t> family;
    const nlattr* addr = nullptr;
    std::optional<uint8_t> cidr;
    for_each_nested(nest, [&](const nlattr* a) {
        switch (mnl_attr_get_type(a)) {
        case WGALLOWEDIP_A_FAMILY:
            if (mnl_attr_get_payload_len(a) >= sizeof(uint16_t)) family = mnl_attr_get_u16(a);
            break;
        case WGALLOWEDIP_A_IPADDR: addr = a; break;
        case WGALLOWEDIP_A_CIDR_MASK:
            if (mnl_attr_get_payload_len(a) >= sizeof(uint8_t)) cidr = mnl_attr_get_u8(a);
            break;
        }
        return true;
    });
    if (!family || !addr || !cidr || (*family != AF_INET && *family != AF_INET6)) return std::nullopt;
    Family f = *family == AF_INET ? Family::ipv4 : Family::ipv6;
    size_t size = f == Family::ipv4 ? 4 : 16;
    if (mnl_attr_get_payload_len(addr) < size || *cidr > size * 8) return std::nullopt;
    return IpPrefix{IpAddress::from_bytes(f, static_cast<const uint8_t*>(mnl_attr_get_payload(addr))), *cidr};
}

std::optional<WgPeer> get_peer(const nlattr* nest) {
    WgPeer peer;
    bool ok = for_each_nested(nest, [&](const nlattr* a) {
        switch (mnl_attr_get_type(a)) {
        case WGPEER_A_PUBLIC_KEY: {
            auto key = get_key(a);
            if (!key) return false;
            peer.public_key = *key;
            break;
        }
        case WGPEER_A_ENDPOINT: peer.endpoint = get_endpoint(a); break;
        case WGPEER_A_LAST_HANDSHAKE_TIME:
            if (mnl_attr_get_payload_len(a) >= sizeof(int64_t)) { // struct __kernel_timespec: tv_sec first
                int64_t sec;
                std::memcpy(&sec, mnl_attr_get_payload(a), sizeof(sec));
                peer.last_handshake_unix_s = sec;
            }
            break;
        case WGPEER_A_ALLOWEDIPS:
            return for_each_nested(a, [&](const nlattr* ip) {
                auto prefix = get_allowed_ip(ip);
                if (prefix) peer.allowed_ips.push_back(*prefix);
                return prefix.has_value();
            });
        }
        return true;
    });
    if (!ok || peer.public_key.empty()) return std::nullopt;
    return peer;
}

} // namespace

bool parse_wg_genl_device(const nlmsghdr* nlh, WgInterface& wg) {
    if (nlh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN)) return false;
    wg.implementation = WgImplementation::kernel;
    return for_each_attr(nlh, GENL_HDRLEN, [&](const nlattr* a) {
        switch (mnl_attr_get_type(a)) {
        case WGDEVICE_A_IFNAME: {
            const char* p = static_cast<const char*>(mnl_attr_get_payload(a));
            wg.name.assign(p, strnlen(p, mnl_attr_get_payload_len(a)));
            return true;
        }
        case WGDEVICE_A_PUBLIC_KEY: {
            auto key = get_key(a);
            if (key) wg.public_key = *key;
            return key.has_value();
        }
        case WGDEVICE_A_LISTEN_PORT:
            if (mnl_attr_get_payload_len(a) < sizeof(uint16_t)) return false;
            wg.listen_port = mnl_attr_get_u16(a);
            return true;
        case WGDEVICE_A_FWMARK:
            if (mnl_attr_get_payload_len(a) < sizeof(uint32_t)) return false;
            wg.fwmark = mnl_attr_get_u32(a);
            return true;
        case WGDEVICE_A_PEERS: {
            bool first = true;
            return for_each_nested(a, [&](const nlattr* p) {
                auto peer = get_peer(p);
                if (!peer) return false;
                // Continuation of the previous message's last peer: same key, more allowed IPs.
                if (first && !wg.peers.empty() && wg.peers.back().public_key == peer->public_key) {
                    WgPeer& last = wg.peers.back();
                    last.allowed_ips.insert(last.allowed_ips.end(), peer->allowed_ips.begin(), peer->allowed_ips.end());
                    if (peer->endpoint) last.endpoint = peer->endpoint;
                    if (peer->last_handshake_unix_s) last.last_handshake_unix_s = peer->last_handshake_unix_s;
                } else {
                    wg.peers.push_back(std::move(*peer));
                }
                first = false;
                return true;
            });
        }
        default: return true; // WGDEVICE_A_PRIVATE_KEY among others: deliberately not read
        }
    });
}

} // namespace wgbpf
