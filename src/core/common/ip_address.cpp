#include "common/ip_address.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace wgbpf {

std::string_view family_name(Family f) { return f == Family::ipv4 ? "ipv4" : "ipv6"; }

IpAddress IpAddress::v4(uint32_t network_order) {
    IpAddress a;
    std::memcpy(a.bytes.data(), &network_order, 4);
    return a;
}

IpAddress IpAddress::from_bytes(Family f, const uint8_t* data) {
    IpAddress a;
    a.family = f;
    std::memcpy(a.bytes.data(), data, f == Family::ipv4 ? 4 : 16);
    return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    std::string s(text);
    IpAddress a;
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
        a.family = Family::ipv4;
        return a;
    }
    if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
        a.family = Family::ipv6;
        return a;
    }
    return std::nullopt;
}

std::string IpAddress::to_string() const {
    // IPv4 by hand: glibc's inet_ntop formats it through sprintf, a third of a route's JSON line.
    if (family == Family::ipv4) {
        char buf[16];
        char* p = buf;
        for (size_t i = 0; i < 4; ++i) {
            if (i) *p++ = '.';
            p = std::to_chars(p, buf + sizeof buf, bytes[i]).ptr;
        }
        return std::string(buf, p);
    }
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family == Family::ipv4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
    return buf;
}

bool IpAddress::is_unspecified() const {
    for (size_t i = 0; i < size(); ++i)
        if (bytes[i] != 0) return false;
    return true;
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
    auto slash = text.find('/');
    auto addr = IpAddress::parse(text.substr(0, slash));
    if (!addr) return std::nullopt;
    unsigned max = addr->family == Family::ipv4 ? 32 : 128;
    unsigned len = max;
    if (slash != std::string_view::npos) {
        auto digits = text.substr(slash + 1);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
        if (ec != std::errc() || end != digits.data() + digits.size() || len > max) return std::nullopt;
    }
    return IpPrefix{*addr, static_cast<uint8_t>(len)};
}

bool IpPrefix::contains(const IpAddress& a) const {
    if (a.family != address.family) return false;
    unsigned full = length / 8, rest = length % 8;
    if (std::memcmp(a.bytes.data(), address.bytes.data(), full) != 0) return false;
    if (rest == 0) return true;
    uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (a.bytes[full] & mask) == (address.bytes[full] & mask);
}

std::string IpPrefix::to_string() const {
    if (length == 0) return "default";
    unsigned max = address.family == Family::ipv4 ? 32 : 128;
    if (length == max) return address.to_string();
    return address.to_string() + "/" + std::to_string(length);
}

bool IpAddress::is_multicast() const { return family == Family::ipv4 ? (bytes[0] & 0xf0) == 0xe0 : bytes[0] == 0xff; }

} // namespace wgbpf
