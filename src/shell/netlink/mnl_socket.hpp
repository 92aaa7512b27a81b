#pragma once
// RAII libmnl socket plus one request/response exchange (dump or acked request), shared by the readers.
#include <functional>
#include <memory>

#include <linux/netlink.h>

#include "common/result.hpp"

struct mnl_socket;

namespace wgbpf {

struct MnlSocketCloser {
    void operator()(mnl_socket* s) const;
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlSocketCloser>;

// Opens and binds (automatic port id) a netlink socket of `bus` in the calling thread's namespace.
Result<MnlSocket> open_mnl_socket(int bus, int flags = 0);

// Sends `request` (its nlmsg_seq is filled in) and hands every reply message to `on_message` until
// NLMSG_DONE or the ack. Returns 0, or an errno value: the kernel's error, or EINTR when a dump was
// interrupted by a concurrent change (NLM_F_DUMP_INTR) and should be repeated.
int mnl_transact(mnl_socket* sock, nlmsghdr* request, const std::function<void(const nlmsghdr*)>& on_message);

} // namespace wgbpf
