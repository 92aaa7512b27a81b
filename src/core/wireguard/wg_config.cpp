#include "wireguard/wg_config.hpp"

#include <fmt/format.h>

#include <charconv>

namespace wgbpf {

std::string_view name_of(WgImplementation i) {
    switch (i) {
    case WgImplementation::kernel: return "kernel";
    case WgImplementation::uapi: return "uapi";
    }
    return {};
}
namespace {

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

template <typename T>
std::optional<T> parse_uint(std::string_view s) {
    int base = 10;
    if (s.starts_with("0x")) {
        s.remove_prefix(2);
        base = 16;
    }
    T v{};
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

// "a.b.c.d:port" or "[v6]:port" (a "%zone" suffix inside the brackets is dropped).
std::optional<WgEndpoint> parse_endpoint(std::string_view s) {
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    auto host = s.substr(0, colon);
    auto port = parse_uint<uint16_t>(s.substr(colon + 1));
    if (!port) return std::nullopt;
    if (host.starts_with('[')) {
        if (!host.ends_with(']')) return std::nullopt;
        host = host.substr(1, host.size() - 2);
        host = host.substr(0, host.find('%'));
        auto a = IpAddress::parse(host);
        if (!a || a->family != Family::ipv6) return std::nullopt;
        return WgEndpoint{*a, *port};
    }
    auto a = IpAddress::parse(host);
    if (!a || a->family != Family::ipv4) return std::nullopt;
    return WgEndpoint{*a, *port};
}

// A reply line fit for an error message: control and non-ASCII bytes escaped, long lines cut.
std::string printable(std::string_view line) {
    std::string out;
    for (unsigned char c : line.substr(0, 120)) {
        if (c >= 0x20 && c < 0x7f) out += static_cast<char>(c);
        else out += fmt::format("\\x{:02x}", c);
    }
    if (line.size() > 120) out += "...";
    return out;
}

} // namespace

std::string WgEndpoint::to_string() const {
    if (address.family == Family::ipv6) return fmt::format("[{}]:{}", address.to_string(), port);
    return fmt::format("{}:{}", address.to_string(), port);
}

std::string key_to_base64(const uint8_t key[32]) {
    std::string out;
    out.reserve(44);
    for (size_t i = 0; i < 32; i += 3) {
        uint32_t chunk = uint32_t(key[i]) << 16;
        if (i + 1 < 32) chunk |= uint32_t(key[i + 1]) << 8;
        if (i + 2 < 32) chunk |= key[i + 2];
        out += kBase64[(chunk >> 18) & 63];
        out += kBase64[(chunk >> 12) & 63];
        out += i + 1 < 32 ? kBase64[(chunk >> 6) & 63] : '=';
        out += i + 2 < 32 ? kBase64[chunk & 63] : '=';
    }
    return out;
}

std::optional<std::string> hex_key_to_base64(std::string_view hex) {
    if (hex.size() != 64) return std::nullopt;
    uint8_t key[32];
    for (size_t i = 0; i < 32; ++i) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        key[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return key_to_base64(key);
}

// The UAPI carries no interface public key: only the private one, which wgbpf never keeps and cannot turn
// into the public key without Curve25519. So public_key stays empty for user-space implementations.
Result<WgInterface> parse_uapi_get(std::string_view reply, std::string name) {
    WgInterface wg;
    wg.name = std::move(name);
    wg.implementation = WgImplementation::uapi;
    std::optional<long> err;
    size_t line_no = 0;
    while (!reply.empty()) {
        auto nl = reply.find('\n');
        auto line = reply.substr(0, nl);
        reply = nl == std::string_view::npos ? std::string_view{} : reply.substr(nl + 1);
        ++line_no;
        if (line.empty()) {
            if (err) break; // the blank line that ends the reply
            continue;
        }
        auto eq = line.find('=');
        if (eq == std::string_view::npos || eq == 0)
            return Error{fmt::format("{}: malformed UAPI reply line {}: '{}'", wg.name, line_no, printable(line))};
        auto key = line.substr(0, eq), value = line.substr(eq + 1);
        auto bad = [&] {
            return Error{fmt::format("{}: bad value in UAPI reply line {}: '{}'", wg.name, line_no, printable(line))};
        };

        if (key == "errno") {
            auto v = parse_uint<uint32_t>(value);
            if (!v) return bad();
            err = *v;
        } else if (key == "private_key") {
            // Deliberately dropped.
        } else if (key == "listen_port") {
            auto v = parse_uint<uint16_t>(value);
            if (!v) return bad();
            wg.listen_port = *v;
        } else if (key == "fwmark") {
            auto v = parse_uint<uint32_t>(value);
            if (!v) return bad();
            wg.fwmark = *v;
        } else if (key == "public_key") {
            auto b64 = hex_key_to_base64(value);
            if (!b64) return bad();
            wg.peers.push_back(WgPeer{*b64, std::nullopt, {}});
        } else if (key == "last_handshake_time_sec") {
            auto v = parse_uint<uint64_t>(value);
            if (!v || wg.peers.empty()) return bad();
            wg.peers.back().last_handshake_unix_s = int64_t(*v);
        } else if (key == "endpoint" || key == "allowed_ip") {
            if (wg.peers.empty()) return bad(); // peer keys before any public_key
            if (key == "endpoint") {
                auto ep = parse_endpoint(value);
                if (!ep) return bad();
                wg.peers.back().endpoint = *ep;
            } else {
                auto p = IpPrefix::parse(value);
                if (!p || value.find('/') == std::string_view::npos) return bad();
                wg.peers.back().allowed_ips.push_back(*p);
            }
        }
        // Other keys (preshared_key, handshake nanoseconds, counters, keepalive, protocol_version) are not needed.
    }
    if (!err) return Error{fmt::format("{}: truncated UAPI reply (no errno line)", wg.name)};
    if (*err != 0) return Error{fmt::format("{}: UAPI get failed with errno={}", wg.name, *err)};
    return wg;
}

std::string short_key(const std::string& key) { return key.empty() ? "(unknown)" : key.substr(0, 8) + "..."; }

} // namespace wgbpf
