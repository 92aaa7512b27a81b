#pragma once
// Listens to nftables trace messages (NFNLGRP_NFTRACE) in a namespace: poll fd(); when readable, drain()
// decodes what is pending. Events of wgbpf's own trace tables are left out: they are how wgbpf asks for
// tracing, not something the user's ruleset did. Needs CAP_NET_ADMIN in the namespace.
#include <cstdint>
#include <functional>
#include <memory>

#include "common/result.hpp"
#include "netlink/mnl_socket.hpp"
#include "netlink/netns.hpp"
#include "netlink/nftrace_parse.hpp"

namespace wgbpf {

class NftraceListener {
public:
    static Result<std::unique_ptr<NftraceListener>> open(const NetnsHandle& ns);

    int fd() const;
    // Reads every pending message. Each is stamped (CLOCK_MONOTONIC) just after it was read: never before the
    // kernel sent it, so never before the netfilter step it belongs to.
    // Reads what is pending, at most kMaxReads datagrams: under a flood the socket never empties, and the
    // watch must get back to its loop (and to a Ctrl-C). True when more may be pending.
    bool drain(const NftraceNames& names, const std::function<void(NftraceEvent&&)>& on_event);
    static constexpr int kMaxReads = 256;

    uint64_t overruns() const { return overruns_; } // times the socket buffer overflowed (messages lost)
    uint64_t undecodable() const { return undecodable_; }
    uint64_t own() const { return own_; } // events of wgbpf's trace tables, left out

private:
    explicit NftraceListener(MnlSocket sock) : sock_(std::move(sock)) {}
    MnlSocket sock_;
    uint64_t overruns_ = 0;
    uint64_t undecodable_ = 0;
    uint64_t own_ = 0;
};

} // namespace wgbpf
