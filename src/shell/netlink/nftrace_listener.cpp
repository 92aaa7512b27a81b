#include "netlink/nftrace_listener.hpp"
#include "common/clock.hpp"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include <time.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "nftrace/trace_table_name.hpp"

namespace wgbpf {
namespace {

// A ping through a few chains makes a dozen messages of ~300 bytes; bursts of traced traffic make many
// more. A large buffer keeps them while the main loop is busy elsewhere (root may exceed rmem_max).
constexpr int kSocketBuffer = 8 << 20;

} // namespace

Result<std::unique_ptr<NftraceListener>> NftraceListener::open(const NetnsHandle& ns) {
    auto scope = NetnsScope::enter(ns);
    if (!scope) return scope;
    auto sock = open_mnl_socket(NETLINK_NETFILTER, SOCK_NONBLOCK);
    if (!sock) return Error{fmt::format("{} in {}", sock.error(), ns.description())};
    int group = NFNLGRP_NFTRACE;
    if (mnl_socket_setsockopt(sock->get(), NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0)
        return Error{fmt::format("cannot listen to nftables trace messages in {}: {}{}", ns.description(),
                                 std::strerror(errno), errno == EPERM ? " (needs CAP_NET_ADMIN)" : "")};
    int size = kSocketBuffer;
    int fd = mnl_socket_get_fd(sock->get());
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    return std::unique_ptr<NftraceListener>(new NftraceListener(std::move(sock.value())));
}

int NftraceListener::fd() const { return mnl_socket_get_fd(sock_.get()); }

bool NftraceListener::drain(const NftraceNames& names, const std::function<void(NftraceEvent&&)>& on_event) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    for (int reads = 0; reads < kMaxReads; ++reads) {
        ssize_t n = mnl_socket_recvfrom(sock_.get(), buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) return true; // a signal: the caller looks at it first
            if (errno == ENOBUFS) {          // the kernel dropped messages: counted, and reading goes on
                ++overruns_;
                continue;
            }
            return false; // EAGAIN: nothing more
        }
        const uint64_t now_ns = clock_ns();
        int len = int(n);
        for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len);
             nlh = mnl_nlmsg_next(nlh, &len)) {
            if (!is_nftrace_message(nlh)) continue;
            auto event = parse_nftrace_message(nlh, now_ns, names);
            if (!event) {
                ++undecodable_;
                spdlog::debug("nftrace: {}", event.error());
                continue;
            }
            if (is_wgbpf_trace_table(event->table)) {
                ++own_;
                continue;
            }
            on_event(std::move(event.value()));
        }
    }
    return true;
}

} // namespace wgbpf
