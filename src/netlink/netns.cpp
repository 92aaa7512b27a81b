#include "wgbpf/netlink/netns.hpp"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace wgbpf {
namespace {

// Whether a path exists; EACCES is remembered in `denied` (the last, most specific candidate wins) so that
// "not found" does not hide a permission problem.
bool exists(const std::string& path, std::string& denied) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) return true;
    if (errno == EACCES) denied = fmt::format(" (cannot access {}: {})", path, std::strerror(errno));
    return false;
}

bool is_decimal(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Spec -> (path, description), in the order a user most likely means: a name, a path, a PID.
Result<std::pair<std::string, std::string>> resolve(std::string_view spec) {
    std::string s(spec);
    if (s.empty()) return std::pair{std::string("/proc/self/ns/net"), std::string("current (/proc/self/ns/net)")};
    std::string denied;
    if (s.find('/') != std::string::npos) { // clearly a path
        if (exists(s, denied)) return std::pair{s, s};
        return Error{fmt::format("network namespace file '{}' not found{}", s, denied)};
    }
    if (s != "." && s != "..") {
        std::string named = "/run/netns/" + s;
        if (exists(named, denied)) return std::pair{named, fmt::format("{} ({})", s, named)};
    }
    if (exists(s, denied)) return std::pair{s, s};
    if (is_decimal(s)) {
        std::string proc = "/proc/" + s + "/ns/net";
        if (exists(proc, denied)) return std::pair{proc, fmt::format("pid {} ({})", s, proc)};
    }
    return Error{fmt::format("network namespace '{}' not found: no /run/netns/{}, no such file, not a PID{}", s, s,
                             denied)};
}

} // namespace

Result<NetnsHandle> NetnsHandle::open(std::string_view spec) {
    auto where = resolve(spec);
    if (!where) return Error{where.error()};
    const auto& [path, description] = *where;

    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error{fmt::format("cannot open network namespace {}: {}", description, std::strerror(errno))};
    // Only nsfs files answer NS_GET_NSTYPE; a regular file gets ENOTTY.
    int type = ::ioctl(fd, NS_GET_NSTYPE);
    if (type != CLONE_NEWNET) {
        ::close(fd);
        return Error{fmt::format("'{}' is not a network namespace ({})", path,
                                 type < 0 ? "not a namespace file" : "a namespace of another kind")};
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        int err = errno;
        ::close(fd);
        return Error{fmt::format("cannot stat {}: {}", path, std::strerror(err))};
    }
    return NetnsHandle(fd, static_cast<uint32_t>(st.st_ino), description);
}

NetnsHandle::NetnsHandle(int fd, uint32_t inode, std::string description)
    : fd_(fd), inode_(inode), description_(std::move(description)) {}

NetnsHandle::NetnsHandle(NetnsHandle&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), inode_(o.inode_), description_(std::move(o.description_)) {}

NetnsHandle& NetnsHandle::operator=(NetnsHandle&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(o.fd_, -1);
        inode_ = o.inode_;
        description_ = std::move(o.description_);
    }
    return *this;
}

NetnsHandle::~NetnsHandle() {
    if (fd_ >= 0) ::close(fd_);
}

Result<NetnsScope> NetnsScope::enter(const NetnsHandle& ns) {
    // thread-self, not self: setns() moves only this thread, so this thread's namespace is what to restore.
    int original = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (original < 0) return Error{fmt::format("cannot open /proc/thread-self/ns/net: {}", std::strerror(errno))};
    struct stat here {}, there {};
    if (::fstat(original, &here) == 0 && ::fstat(ns.fd(), &there) == 0 && here.st_dev == there.st_dev &&
        here.st_ino == there.st_ino) {
        // Already there: nothing to enter or restore, and no CAP_SYS_ADMIN needed.
        ::close(original);
        return NetnsScope(-1);
    }
    if (::setns(ns.fd(), CLONE_NEWNET) != 0) {
        int err = errno;
        ::close(original);
        return Error{fmt::format("cannot enter network namespace {}: {}{}", ns.description(), std::strerror(err),
                                 err == EPERM ? " (needs CAP_SYS_ADMIN)" : "")};
    }
    return NetnsScope(original);
}

NetnsScope::NetnsScope(NetnsScope&& o) noexcept : original_fd_(std::exchange(o.original_fd_, -1)) {}

NetnsScope::~NetnsScope() {
    if (original_fd_ < 0) return;
    // Carrying on in the wrong namespace would silently observe the wrong network: stop instead.
    if (::setns(original_fd_, CLONE_NEWNET) != 0) {
        std::fprintf(stderr, "wgbpf: cannot return to the original network namespace: %s\n", std::strerror(errno));
        std::abort();
    }
    ::close(original_fd_);
}

} // namespace wgbpf
