#pragma once
// Reads a namespace's nftables ruleset through libnftables (nft's own library, so rule text is what
// `nft list ruleset` prints) plus which iptables-legacy tables exist there; watches it for changes.
// Needs CAP_NET_ADMIN in the namespace (and CAP_SYS_ADMIN to enter another one).
#include <memory>
#include <utility>

#include "common/result.hpp"
#include "config/nft_ruleset.hpp"
#include "netlink/mnl_socket.hpp"
#include "netlink/netns.hpp"

namespace wgbpf {

Result<NftRuleset> read_nft_ruleset(const NetnsHandle& ns);

} // namespace wgbpf
