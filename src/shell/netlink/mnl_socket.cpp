#include "netlink/mnl_socket.hpp"

#include <libmnl/libmnl.h>

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

namespace wgbpf {
namespace {

// Large enough for any dump chunk the kernel builds (it sizes them after the reader's buffer, max 32 KiB).
constexpr size_t kReceiveBuffer = 32768;

struct Exchange {
    const std::function<void(const nlmsghdr*)>* on_message;
    bool interrupted = false;
};

int data_cb(const nlmsghdr* nlh, void* data) {
    auto* ex = static_cast<Exchange*>(data);
    if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) ex->interrupted = true;
    (*ex->on_message)(nlh);
    return MNL_CB_OK;
}

int error_cb(const nlmsghdr* nlh, void*) {
    if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) {
        errno = EBADMSG;
        return MNL_CB_ERROR;
    }
    const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
    if (err->error == 0) return MNL_CB_STOP; // the ack
    errno = err->error < 0 ? -err->error : err->error;
    return MNL_CB_ERROR;
}

// A dump that fails after it started reports the error in NLMSG_DONE's payload (libmnl ignores it).
int done_cb(const nlmsghdr* nlh, void* data) {
    auto* ex = static_cast<Exchange*>(data);
    if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) ex->interrupted = true;
    if (nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(int32_t))) {
        int32_t err;
        std::memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof err);
        if (err < 0) {
            errno = -err;
            return MNL_CB_ERROR;
        }
    }
    return MNL_CB_STOP;
}

} // namespace

void MnlSocketCloser::operator()(mnl_socket* s) const { mnl_socket_close(s); }

Result<MnlSocket> open_mnl_socket(int bus, int flags) {
    MnlSocket sock(mnl_socket_open2(bus, flags | SOCK_CLOEXEC));
    if (!sock) return Error{fmt::format("cannot open netlink socket: {}", std::strerror(errno))};
    if (mnl_socket_bind(sock.get(), 0, MNL_SOCKET_AUTOPID) < 0)
        return Error{fmt::format("cannot bind netlink socket: {}", std::strerror(errno))};
    return sock;
}

int mnl_transact(mnl_socket* sock, nlmsghdr* request, const std::function<void(const nlmsghdr*)>& on_message) {
    static std::atomic<uint32_t> next_seq{static_cast<uint32_t>(std::time(nullptr))};
    uint32_t seq = request->nlmsg_seq = next_seq++;
    uint32_t portid = mnl_socket_get_portid(sock);
    if (mnl_socket_sendto(sock, request, request->nlmsg_len) < 0) return errno;

    mnl_cb_t ctl[NLMSG_MIN_TYPE] = {};
    ctl[NLMSG_ERROR] = error_cb;
    ctl[NLMSG_DONE] = done_cb;
    Exchange ex{&on_message};
    std::vector<char> buf(kReceiveBuffer);
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(sock, buf.data(), buf.size());
        if (n < 0) return errno;
        int ret = mnl_cb_run2(buf.data(), static_cast<size_t>(n), seq, portid, data_cb, &ex, ctl, NLMSG_MIN_TYPE);
        if (ret == MNL_CB_ERROR) return errno ? errno : EPROTO;
        if (ret == MNL_CB_STOP) return ex.interrupted ? EINTR : 0;
    }
}

} // namespace wgbpf
