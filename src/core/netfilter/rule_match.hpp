#pragma once
// Could this nftables rule have matched this packet? Decided only from the matches wgbpf can evaluate on
// what it saw (layer-4 protocol, ports, addresses, the packet mark); every other match counts as "maybe".
// Used to keep `set by:` to rules that may really have made a change: a rule for UDP did not set the mark
// of an ICMP packet.
#include <cstdint>
#include <optional>
#include <string>

#include "event/packet_info.hpp"

namespace wgbpf {

struct RuleMatchInput {
    const PacketInfo& pkt;
    uint32_t mark_before = 0;               // the packet mark entering the chain
    uint32_t mark_after = 0;                // and leaving it (an earlier rule of the chain may have set it)
    std::optional<uint32_t> ct_mark_before; // the connection's mark entering (absent: not known there)
    std::optional<uint32_t> ct_mark_after;
};

// false only when a match in `rule_text` (as `nft list ruleset` prints it) is certainly not satisfied.
bool rule_may_match(const std::string& rule_text, const RuleMatchInput& in);

} // namespace wgbpf
