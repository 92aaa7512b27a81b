#pragma once
// An IPv4 or IPv6 address as the kernel hands it over (network byte order), plus prefixes.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wgbpf {

enum class Family : uint8_t { ipv4 = 4, ipv6 = 6 };

std::string_view family_name(Family f); // "ipv4" | "ipv6"

struct IpAddress {
    Family family = Family::ipv4;
    std::array<uint8_t, 16> bytes{}; // IPv4 uses the first 4 bytes

    static IpAddress v4(uint32_t network_order);
    static IpAddress from_bytes(Family f, const uint8_t* data); // 4 or 16 bytes
    static std::optional<IpAddress> parse(std::string_view text);

    std::string to_string() const;
    bool is_unspecified() const;
    bool is_multicast() const; // 224.0.0.0/4, ff00::/8
    size_t size() const { return family == Family::ipv4 ? 4 : 16; }
    bool operator==(const IpAddress&) const = default;
    auto operator<=>(const IpAddress&) const = default;
};

struct IpPrefix {
    IpAddress address;
    uint8_t length = 0;

    static std::optional<IpPrefix> parse(std::string_view text); // "10.0.0.0/24", "::/0", "1.2.3.4"
    bool contains(const IpAddress& a) const;
    std::string to_string() const; // "default" for /0
    bool operator==(const IpPrefix&) const = default;
    auto operator<=>(const IpPrefix&) const = default;
};

} // namespace wgbpf
