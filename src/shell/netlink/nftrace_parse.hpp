#pragma once
// Decodes one NFT_MSG_TRACE message (NFNLGRP_NFTRACE) into an NftraceEvent. Pure: no socket, no root;
// names that need the namespace (interfaces by index, rule text by handle) come from the caller.
#include <cstdint>
#include <functional>
#include <string>

#include <linux/netlink.h>

#include "common/result.hpp"
#include "nftrace/trace_event.hpp"

namespace wgbpf {

struct NftraceNames {
    std::function<std::string(int ifindex)> link; // "" when unknown
    // Rule text by table family, table, chain and handle; "" when the ruleset does not have it.
    std::function<std::string(const std::string& family, const std::string& table, const std::string& chain,
                              uint64_t handle)>
        rule;
};

// Whether a netlink message is an nftables trace message at all (the group carries nothing else today).
bool is_nftrace_message(const nlmsghdr* nlh);

// `t_ns`: when it was read (CLOCK_MONOTONIC). An error names what is missing or malformed.
Result<NftraceEvent> parse_nftrace_message(const nlmsghdr* nlh, uint64_t t_ns, const NftraceNames& names = {});

} // namespace wgbpf
