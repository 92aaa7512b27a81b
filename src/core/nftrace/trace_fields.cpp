#include "nftrace/trace_fields.hpp"

#include <fmt/format.h>

#include <charconv>
#include <initializer_list>
#include <utility>
#include <vector>

namespace wgbpf {
namespace {

struct Name {
    std::string_view name;
    uint8_t value;
};

// nft's own spellings (src/proto.c, datatype.c), so a trace reads back into numbers wgbpf compares.
constexpr Name kProtocols[] = {{"icmp", 1},   {"igmp", 2},   {"tcp", 6},      {"udp", 17},    {"dccp", 33},
                               {"gre", 47},   {"esp", 50},   {"ah", 51},      {"icmpv6", 58}, {"ipv6-icmp", 58},
                               {"comp", 108}, {"sctp", 132}, {"udplite", 136}};
constexpr Name kIcmpTypes[] = {
    {"echo-reply", 0},         {"destination-unreachable", 3}, {"source-quench", 4},        {"redirect", 5},
    {"echo-request", 8},       {"router-advertisement", 9},    {"router-solicitation", 10}, {"time-exceeded", 11},
    {"parameter-problem", 12}, {"timestamp-request", 13},      {"timestamp-reply", 14},     {"info-request", 15},
    {"info-reply", 16},        {"address-mask-request", 17},   {"address-mask-reply", 18}};
constexpr Name kIcmpCodes[] = {{"net-unreachable", 0},  {"host-unreachable", 1}, {"prot-unreachable", 2},
                               {"port-unreachable", 3}, {"frag-needed", 4},      {"net-prohibited", 9},
                               {"host-prohibited", 10}, {"admin-prohibited", 13}};
constexpr Name kIcmpv6Types[] = {
    {"destination-unreachable", 1},  {"packet-too-big", 2},         {"time-exceeded", 3},
    {"parameter-problem", 4},        {"echo-request", 128},         {"echo-reply", 129},
    {"mld-listener-query", 130},     {"mld-listener-report", 131},  {"mld-listener-done", 132},
    {"mld-listener-reduction", 132}, {"nd-router-solicit", 133},    {"nd-router-advert", 134},
    {"nd-neighbor-solicit", 135},    {"nd-neighbor-advert", 136},   {"nd-redirect", 137},
    {"router-renumbering", 138},     {"ind-neighbor-solicit", 141}, {"ind-neighbor-advert", 142},
    {"mld2-listener-report", 143}};
constexpr Name kIcmpv6Codes[] = {{"no-route", 0},         {"admin-prohibited", 1}, {"addr-unreachable", 3},
                                 {"port-unreachable", 4}, {"policy-fail", 5},      {"reject-route", 6}};

// Words split at blanks; a quoted interface name stays one word (quotes removed).
std::vector<std::string> words(std::string_view text) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < text.size()) {
        if (text[i] == ' ' || text[i] == '\t') {
            ++i;
            continue;
        }
        if (text[i] == '"') {
            size_t end = text.find('"', i + 1);
            if (end == std::string_view::npos) end = text.size();
            out.emplace_back(text.substr(i + 1, end - i - 1));
            i = end + 1;
            continue;
        }
        size_t end = text.find_first_of(" \t", i);
        if (end == std::string_view::npos) end = text.size();
        out.emplace_back(text.substr(i, end - i));
        i = end;
    }
    return out;
}

template <typename T>
std::optional<T> number(std::string_view s) {
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s.remove_prefix(2);
        base = 16;
    }
    T v{};
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

template <size_t N>
std::optional<uint8_t> named(std::string_view s, const Name (&table)[N]) {
    for (const Name& n : table)
        if (n.name == s) return n.value;
    return number<uint8_t>(s);
}

struct Reader {
    NftraceFields out;
    std::string field; // "ip saddr", for messages

    Error bad(std::string_view value, std::string_view what) const {
        return Error{fmt::format("{} '{}' is not {}", field, value, what)};
    }
    void family(Family f) {
        if (!out.packet.family) out.packet.family = f;
        out.any_packet_field = true;
    }
    void l4(uint8_t proto) {
        if (!out.packet.l4proto) out.packet.l4proto = proto;
        out.any_packet_field = true;
    }

    // One known field's value; an error when the value cannot be one nft prints.
    std::optional<Error> take(std::string_view proto, std::string_view key, const std::string& v) {
        NftracePacket& p = out.packet;
        auto u16 = [&](std::optional<uint16_t>& into) -> std::optional<Error> {
            auto n = number<uint16_t>(v);
            if (!n) return bad(v, "a 16-bit number");
            into = n;
            out.any_packet_field = true;
            return std::nullopt;
        };
        auto addr = [&](std::optional<IpAddress>& into, Family f) -> std::optional<Error> {
            auto a = IpAddress::parse(v);
            if (!a || a->family != f) return bad(v, f == Family::ipv4 ? "an IPv4 address" : "an IPv6 address");
            into = a;
            family(f);
            return std::nullopt;
        };
        auto mark = [&](std::optional<uint32_t>& into) -> std::optional<Error> {
            auto n = number<uint32_t>(v);
            if (!n) return bad(v, "a mark");
            into = n;
            return std::nullopt;
        };
        auto proto_of = [&]() -> std::optional<Error> {
            auto n = named(v, kProtocols);
            if (!n) return bad(v, "a protocol");
            l4(*n);
            return std::nullopt;
        };
        if (proto == "ip") {
            if (key == "saddr") return addr(p.saddr, Family::ipv4);
            if (key == "daddr") return addr(p.daddr, Family::ipv4);
            if (key == "id") return u16(p.ip_id);
            if (key == "length") return u16(p.length);
            if (key == "protocol") return proto_of();
        } else if (proto == "ip6") {
            if (key == "saddr") return addr(p.saddr, Family::ipv6);
            if (key == "daddr") return addr(p.daddr, Family::ipv6);
            if (key == "nexthdr") return proto_of();
            if (key == "length") { // the payload length: wgbpf (like `ip length`) counts the 40-byte header too
                auto n = number<uint16_t>(v);
                if (!n || *n > 65535 - 40) return bad(v, "an IPv6 payload length");
                p.length = uint16_t(*n + 40);
                return std::nullopt;
            }
        } else if (proto == "udp" || proto == "tcp" || proto == "sctp" || proto == "dccp" || proto == "udplite") {
            l4(*named(proto, kProtocols));
            if (key == "sport") return u16(p.sport);
            if (key == "dport") return u16(p.dport);
        } else if (proto == "icmp" || proto == "icmpv6") {
            bool v6 = proto == "icmpv6";
            l4(v6 ? 58 : 1);
            if (key == "type" || key == "code") {
                auto n = key == "type" ? (v6 ? named(v, kIcmpv6Types) : named(v, kIcmpTypes))
                                       : (v6 ? named(v, kIcmpv6Codes) : named(v, kIcmpCodes));
                if (!n) return bad(v, key == "type" ? "an ICMP type" : "an ICMP code");
                (key == "type" ? p.icmp_type : p.icmp_code) = n;
                return std::nullopt;
            }
            if (key == "id") return u16(p.icmp_id);
            if (key == "sequence") return u16(p.icmp_sequence);
        } else if (proto == "meta") {
            if (key == "mark") return mark(out.mark);
            if (key == "l4proto") return proto_of();
            if (key == "iif" || key == "iifname") return take("", "iif", v);
            if (key == "oif" || key == "oifname") return take("", "oif", v);
        } else if (proto == "ct") {
            if (key == "mark") return mark(out.ct_mark);
            if (key == "state") out.ct_state = v;
        } else if (proto.empty()) {
            (key == "iif" ? p.iif : p.oif) = v;
            out.any_packet_field = true;
        }
        return std::nullopt;
    }
};

// The fields read. Any other `PROTO KEY` is skipped a word at a time, so that a value wgbpf does not know
// (`ether type ip`) can never swallow the next field (`ip saddr ...`).
bool known_field(std::string_view proto, std::string_view key) {
    auto in = [&](std::initializer_list<std::string_view> keys) {
        for (std::string_view k : keys)
            if (k == key) return true;
        return false;
    };
    if (proto == "ip") return in({"saddr", "daddr", "id", "length", "protocol"});
    if (proto == "ip6") return in({"saddr", "daddr", "length", "nexthdr"});
    if (proto == "udp" || proto == "tcp" || proto == "sctp" || proto == "dccp" || proto == "udplite")
        return in({"sport", "dport"});
    if (proto == "icmp" || proto == "icmpv6") return in({"type", "code", "id", "sequence"});
    if (proto == "meta") return in({"mark", "l4proto", "iif", "oif", "iifname", "oifname"});
    if (proto == "ct") return in({"mark", "state"});
    return false;
}
bool interface_key(std::string_view w) { return w == "iif" || w == "oif" || w == "iifname" || w == "oifname"; }

} // namespace

Result<NftraceFields> parse_nftrace_fields(std::string_view text) {
    std::vector<std::string> w = words(text);
    Reader r;
    for (size_t i = 0; i < w.size();) {
        std::string proto, key;
        size_t value_at = 0;
        if (interface_key(w[i]) && i + 1 < w.size()) {
            key = w[i].substr(0, 3);
            value_at = i + 1;
        } else if (i + 2 < w.size() && known_field(w[i], w[i + 1])) {
            proto = w[i];
            key = w[i + 1];
            value_at = i + 2;
        } else {
            ++i; // a field wgbpf does not read, or one of its values
            continue;
        }
        if (value_at + 1 < w.size() && (w[value_at] == "==" || w[value_at] == "!=")) ++value_at;
        r.field = proto.empty() ? key : proto + " " + key;
        if (auto err = r.take(proto, key, w[value_at])) return *err;
        i = value_at + 1;
    }
    return std::move(r.out);
}

} // namespace wgbpf
