#pragma once
// Reverse-path filtering of a received packet, explained (pure): the reverse lookup the kernel made in
// fib_validate_source() (kernel-notes §2) judged by the namespace's sysctls, in words a person can act on.
#include <cstdint>
#include <string>

#include "config/netns_config.hpp"
#include "route/route_decision.hpp"
#include "timeline/packet_timeline.hpp"

namespace wgbpf {

// What the check needs to know about the received packet.
struct RpFilterPacket {
    std::string iif;   // the device it came in on ("" when unknown)
    uint32_t mark = 0; // its mark when checked (after prerouting, e.g. restored from conntrack)
};

// mode = max(conf/all, conf/<iif>) rp_filter: 0 off, 1 strict, 2 loose; src_valid_mark = all OR <iif>.
// Strict passes when the reverse route leaves through the packet's iif, loose when any route back
// exists, off always ("unknown" mode and result without a sysctl snapshot).
RpFilterStep explain_rp_filter(const RouteDecision& reverse, const RpFilterPacket& packet, const NetnsConfig* config);

} // namespace wgbpf
