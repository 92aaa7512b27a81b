#include "netlink/netns.hpp"

#include "wireguard/wg_sockets.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <fstream>
#include <sstream>

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

struct Where {
    std::string path, description, name;
};

// Spec -> where, in the order a user most likely means: a name, a path, a PID.
Result<Where> resolve(std::string_view spec) {
    std::string s(spec);
    if (s.empty()) return Where{"/proc/self/ns/net", "current (/proc/self/ns/net)", "current"};
    std::string denied;
    if (s.find('/') != std::string::npos) { // clearly a path
        if (exists(s, denied)) return Where{s, s, s};
        return Error{fmt::format("network namespace file '{}' not found{}", s, denied)};
    }
    if (s != "." && s != "..") {
        std::string named = "/run/netns/" + s;
        if (exists(named, denied)) return Where{named, fmt::format("{} ({})", s, named), s};
    }
    if (exists(s, denied)) return Where{s, s, s};
    if (is_decimal(s)) {
        std::string proc = "/proc/" + s + "/ns/net";
        if (exists(proc, denied)) return Where{proc, fmt::format("pid {} ({})", s, proc), "pid " + s};
    }
    return Error{
        fmt::format("network namespace '{}' not found: no /run/netns/{}, no such file, not a PID{}", s, s, denied)};
}

} // namespace

Result<NetnsHandle> NetnsHandle::open(std::string_view spec) {
    auto where = resolve(spec);
    if (!where) return where;
    return open_path(where->path, where->description, where->name);
}

Result<NetnsHandle> NetnsHandle::open_path(const std::string& path, const std::string& description, std::string name) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid())
        return Error{fmt::format("cannot open network namespace {}: {}", description, std::strerror(errno))};
    // Only nsfs files answer NS_GET_NSTYPE; a regular file gets ENOTTY.
    int type = ::ioctl(fd.get(), NS_GET_NSTYPE);
    if (type != CLONE_NEWNET)
        return Error{fmt::format("'{}' is not a network namespace ({})", path,
                                 type < 0 ? "not a namespace file" : "a namespace of another kind")};
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return Error{fmt::format("cannot stat {}: {}", path, std::strerror(errno))};
    return NetnsHandle(std::move(fd), static_cast<uint32_t>(st.st_ino), description, std::move(name));
}

Result<std::vector<NetnsHandle>> NetnsHandle::open_all() {
    std::vector<NetnsHandle> all;
    std::set<uint32_t> seen;
    auto keep = [&](Result<NetnsHandle> h) {
        if (h && seen.insert(h->inode()).second) all.push_back(std::move(h.value()));
    };
    auto own = open("");
    if (!own) return own;
    keep(std::move(own));
    std::vector<std::string> names, pids;
    if (DIR* d = ::opendir("/run/netns")) {
        while (dirent* e = ::readdir(d))
            if (e->d_name[0] != '.') names.emplace_back(e->d_name);
        ::closedir(d);
    }
    DIR* proc = ::opendir("/proc");
    if (!proc) return Error{fmt::format("cannot list /proc: {}", std::strerror(errno))};
    while (dirent* e = ::readdir(proc))
        if (is_decimal(e->d_name)) pids.emplace_back(e->d_name);
    ::closedir(proc);
    std::sort(names.begin(), names.end());
    std::sort(pids.begin(), pids.end(), [](const std::string& a, const std::string& b) {
        return a.size() != b.size() ? a.size() < b.size() : a < b; // numerically: the lowest pid names it
    });
    for (const std::string& n : names) keep(open(n));
    for (const std::string& p : pids) { // a process that has gone meanwhile is skipped
        const std::string path = "/proc/" + p + "/ns/net";
        keep(open_path(path, fmt::format("pid {} ({})", p, path), "pid " + p));
    }
    return all;
}

NetnsHandle::NetnsHandle(UniqueFd fd, uint32_t inode, std::string description, std::string name)
    : fd_(std::move(fd)), inode_(inode), description_(std::move(description)), name_(std::move(name)) {}

Result<NetnsScope> NetnsScope::enter(const NetnsHandle& ns) {
    // thread-self, not self: setns() moves only this thread, so this thread's namespace is what to restore.
    UniqueFd original(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!original.valid()) return Error{fmt::format("cannot open /proc/thread-self/ns/net: {}", std::strerror(errno))};
    struct stat here {
    }, there{};
    if (::fstat(original.get(), &here) == 0 && ::fstat(ns.fd(), &there) == 0 && here.st_dev == there.st_dev &&
        here.st_ino == there.st_ino)
        return NetnsScope(UniqueFd()); // already there: nothing to enter or restore, and no CAP_SYS_ADMIN needed
    if (::setns(ns.fd(), CLONE_NEWNET) != 0) {
        int err = errno;
        return Error{fmt::format("cannot enter network namespace {}: {}{}", ns.description(), std::strerror(err),
                                 err == EPERM ? " (needs CAP_SYS_ADMIN)" : "")};
    }
    return NetnsScope(std::move(original));
}

NetnsScope::NetnsScope(NetnsScope&& o) noexcept : original_fd_(std::move(o.original_fd_)) {}

NetnsScope::~NetnsScope() {
    if (!original_fd_.valid()) return;
    // Carrying on in the wrong namespace would silently observe the wrong network: stop instead.
    if (::setns(original_fd_.get(), CLONE_NEWNET) != 0) {
        std::fprintf(stderr, "wgbpf: cannot return to the original network namespace: %s\n", std::strerror(errno));
        std::abort();
    }
}

Result<std::set<uint16_t>> bound_udp_ports(const NetnsHandle& ns) {
    auto scope = NetnsScope::enter(ns);
    if (!scope) return scope;
    std::set<uint16_t> ports;
    // thread-self: /proc/PID/net is the namespace of the process's main thread, not of this one after setns.
    for (const char* table : {"/proc/thread-self/net/udp", "/proc/thread-self/net/udp6"}) {
        std::ifstream in(table);
        if (!in) {
            if (std::string(table).ends_with("6")) continue; // IPv6 disabled
            return Error{fmt::format("cannot read {} in {}", table, ns.description())};
        }
        std::stringstream text;
        text << in.rdbuf();
        for (uint16_t p : parse_proc_udp_ports(text.str())) ports.insert(p);
    }
    return ports;
}

} // namespace wgbpf
