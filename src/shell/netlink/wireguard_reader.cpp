#include "netlink/wireguard_reader.hpp"

#include "common/unique_fd.hpp"

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "netlink/mnl_socket.hpp"
#include "netlink/nl_attr.hpp"
#include "netlink/wg_genl_parse.hpp"

namespace wgbpf {
namespace {

constexpr const char* kUapiDir = "/var/run/wireguard";
constexpr int kDumpAttempts = 5;
constexpr int kUapiTimeoutSeconds = 3;
constexpr size_t kMaxUapiReply = 16 << 20; // a runaway peer must not make us buffer forever

nlmsghdr* put_genl_header(char* buf, uint16_t type, uint16_t flags, uint8_t cmd, uint8_t version) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = flags;
    auto* genl = static_cast<genlmsghdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(genlmsghdr)));
    genl->cmd = cmd;
    genl->version = version;
    return nlh;
}

// The "wireguard" family id, nullopt when the kernel has no WireGuard (module not loaded or absent).
Result<std::optional<uint16_t>> resolve_family(mnl_socket* sock) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = put_genl_header(buf.data(), GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, CTRL_CMD_GETFAMILY, 1);
    mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
    std::optional<uint16_t> id;
    int err = mnl_transact(sock, nlh, [&](const nlmsghdr* reply) {
        for_each_attr(reply, GENL_HDRLEN, [&](const nlattr* a) {
            if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID && mnl_attr_get_payload_len(a) >= sizeof(uint16_t))
                id = mnl_attr_get_u16(a);
            return true;
        });
    });
    if (err == ENOENT) return std::optional<uint16_t>{};
    if (err)
        return Error{fmt::format("cannot resolve generic netlink family '{}': {}", WG_GENL_NAME, std::strerror(err))};
    return id;
}

// The kernel's view of the device; nullopt when there is no kernel WireGuard or it is another kind of device.
Result<std::optional<WgInterface>> read_kernel(const std::string& ifname) {
    auto sock = open_mnl_socket(NETLINK_GENERIC);
    if (!sock) return sock;
    auto family = resolve_family(sock->get());
    if (!family) return family;
    if (!*family) return std::optional<WgInterface>{};

    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh =
        put_genl_header(buf.data(), **family, NLM_F_REQUEST | NLM_F_DUMP, WG_CMD_GET_DEVICE, WG_GENL_VERSION);
    mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, ifname.c_str());
    for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
        WgInterface wg;
        bool malformed = false;
        int err = mnl_transact(sock->get(), nlh, [&](const nlmsghdr* reply) {
            if (!parse_wg_genl_device(reply, wg)) malformed = true;
        });
        if (err == ENODEV || err == EOPNOTSUPP) return std::optional<WgInterface>{}; // not a kernel wg device
        if (err == EINTR) continue; // the configuration changed during the dump
        if (err) return Error{fmt::format("{}: WireGuard generic netlink dump failed: {}", ifname, std::strerror(err))};
        if (malformed) return Error{fmt::format("{}: malformed WireGuard generic netlink reply", ifname)};
        if (wg.name.empty()) wg.name = ifname;
        wg.implementation = WgImplementation::kernel;
        return std::optional<WgInterface>{std::move(wg)};
    }
    return Error{fmt::format("{}: WireGuard configuration kept changing during the dump", ifname)};
}

// A user-space implementation's reply to "get=1"; nullopt when no socket file exists. The socket directory
// lives in the file system, so it is the same from every network namespace.
Result<std::optional<WgInterface>> read_uapi(const std::string& ifname) {
    std::string path = fmt::format("{}/{}.sock", kUapiDir, ifname);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) return Error{fmt::format("cannot create a UNIX socket: {}", std::strerror(errno))};
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) return Error{fmt::format("{}: UAPI socket path too long", ifname)};
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        if (errno == ENOENT) return std::optional<WgInterface>{};
        return Error{fmt::format("{}: not a kernel WireGuard device and the UAPI socket {} does not answer: {}", ifname,
                                 path, std::strerror(errno))};
    }
    // A wedged daemon must not hang us.
    timeval timeout{.tv_sec = kUapiTimeoutSeconds, .tv_usec = 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);

    constexpr std::string_view request = "get=1\n\n";
    if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size()))
        return Error{fmt::format("{}: cannot send to UAPI socket {}: {}", ifname, path, std::strerror(errno))};
    std::string reply;
    char chunk[4096];
    while (reply.find("\n\n") == std::string::npos) { // the reply ends with an empty line
        ssize_t n = ::recv(fd.get(), chunk, sizeof chunk, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return Error{
                fmt::format("{}: no reply from UAPI socket {} within {} s", ifname, path, kUapiTimeoutSeconds)};
        if (n < 0) return Error{fmt::format("{}: cannot read UAPI socket {}: {}", ifname, path, std::strerror(errno))};
        if (n == 0) break; // closed early: parse_uapi_get reports the truncation
        reply.append(chunk, static_cast<size_t>(n));
        if (reply.size() > kMaxUapiReply) return Error{fmt::format("{}: UAPI reply too large", ifname)};
    }
    auto wg = parse_uapi_get(reply, ifname);
    if (!wg) return wg;
    return std::optional<WgInterface>{std::move(*wg)};
}

} // namespace

Result<WgInterface> read_wireguard(const NetnsHandle& ns, const std::string& ifname) {
    if (ifname.empty() || ifname.size() >= IFNAMSIZ || ifname.find('/') != std::string::npos)
        return Error{fmt::format("'{}' is not a valid interface name", ifname)};
    auto scope = NetnsScope::enter(ns);
    if (!scope) return scope;
    // The UAPI socket directory is shared by all namespaces: make sure the interface really is in this one.
    if (::if_nametoindex(ifname.c_str()) == 0)
        return Error{fmt::format("{}: no such interface in network namespace {}", ifname, ns.description())};

    auto kernel = read_kernel(ifname);
    if (!kernel) return kernel;
    if (*kernel) return std::move(**kernel);

    auto uapi = read_uapi(ifname);
    if (!uapi) return uapi;
    if (*uapi) return std::move(**uapi);
    return Error{
        fmt::format("{}: not a kernel WireGuard device and no UAPI socket at {}/{}.sock", ifname, kUapiDir, ifname)};
}

} // namespace wgbpf
