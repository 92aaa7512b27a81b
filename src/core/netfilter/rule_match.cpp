#include "netfilter/rule_match.hpp"

#include <netinet/in.h>

#include <charconv>
#include <optional>
#include <sstream>
#include <vector>

namespace wgbpf {
namespace {

std::vector<std::string> words(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

std::optional<uint64_t> number(const std::string& w) {
    uint64_t v = 0;
    int base = 10;
    std::string_view s = w;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s.remove_prefix(2);
        base = 16;
    }
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

// nft's names for the protocols wgbpf tells apart, or a number.
std::optional<uint8_t> protocol(const std::string& w) {
    if (w == "udp") return IPPROTO_UDP;
    if (w == "tcp") return IPPROTO_TCP;
    if (w == "icmp") return IPPROTO_ICMP;
    if (w == "icmpv6" || w == "ipv6-icmp") return IPPROTO_ICMPV6;
    if (auto n = number(w); n && *n < 256) return static_cast<uint8_t>(*n);
    return std::nullopt;
}

// One decided comparison: `value` against the packet's, with `!=` when negated. Unknown: nullopt.
std::optional<bool> compare(bool equal, bool negated) { return equal != negated; }

} // namespace

bool rule_may_match(const std::string& rule_text, const RuleMatchInput& in) {
    const std::vector<std::string> w = words(rule_text);
    const PacketInfo& p = in.pkt;
    for (size_t i = 0; i < w.size(); ++i) {
        // A statement ("... set ...", a verdict) ends the matches: nothing after it is a condition.
        if (w[i] == "set" || w[i] == "accept" || w[i] == "drop" || w[i] == "jump" || w[i] == "goto") break;
        auto operand = [&](size_t at, bool& negated) -> const std::string* {
            negated = at < w.size() && w[at] == "!=";
            if (negated || (at < w.size() && w[at] == "==")) ++at;
            if (at >= w.size() || w[at].front() == '{' || w[at].front() == '@' || w[at].front() == '$') return nullptr;
            if (at + 1 < w.size() && w[at + 1] == "set") return nullptr; // `meta mark set ...`: a statement
            return &w[at];
        };
        std::optional<bool> verdict;
        bool negated = false;
        if (i + 1 < w.size() &&
            ((w[i] == "meta" && w[i + 1] == "l4proto") || (w[i] == "ip" && w[i + 1] == "protocol") ||
             (w[i] == "ip6" && w[i + 1] == "nexthdr"))) {
            if (const std::string* v = operand(i + 2, negated))
                if (auto proto = protocol(*v); proto && p.is_ip) verdict = compare(p.proto == *proto, negated);
        } else if (i + 1 < w.size() && (w[i] == "udp" || w[i] == "tcp" || w[i] == "th") &&
                   (w[i + 1] == "dport" || w[i + 1] == "sport")) {
            // `udp dport 53` also says the packet is UDP.
            if (p.is_ip && w[i] != "th" && p.proto != *protocol(w[i])) verdict = false;
            else if (const std::string* v = operand(i + 2, negated))
                if (auto port = number(*v);
                    port && p.is_ip && p.has_l4 && p.proto != IPPROTO_ICMP && p.proto != IPPROTO_ICMPV6)
                    verdict = compare((w[i + 1] == "dport" ? p.dport : p.sport) == *port, negated);
        } else if (i + 1 < w.size() &&
                   ((w[i] == "ip" && p.family == Family::ipv4) || (w[i] == "ip6" && p.family == Family::ipv6)) &&
                   (w[i + 1] == "saddr" || w[i + 1] == "daddr")) {
            if (const std::string* v = operand(i + 2, negated))
                if (auto prefix = IpPrefix::parse(*v); prefix && p.is_ip)
                    verdict = compare(prefix->contains(w[i + 1] == "saddr" ? p.src : p.dst), negated);
        } else if (i + 1 < w.size() && w[i] == "ct" && w[i + 1] == "mark") {
            if (const std::string* v = operand(i + 2, negated))
                if (auto mark = number(*v); mark && (in.ct_mark_before || in.ct_mark_after))
                    verdict = compare(in.ct_mark_before == *mark || in.ct_mark_after == *mark, negated);
        } else if (i + 1 < w.size() && w[i] == "meta" && w[i + 1] == "mark" && (i == 0 || w[i - 1] != "ct")) {
            if (const std::string* v = operand(i + 2, negated))
                if (auto mark = number(*v))
                    verdict = compare(in.mark_before == *mark || in.mark_after == *mark, negated);
        }
        if (verdict && !*verdict) return false;
    }
    return true;
}

} // namespace wgbpf
