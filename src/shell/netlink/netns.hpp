#pragma once
// Network namespaces named the way a user names them: NAME (/run/netns/NAME), a path to a namespace
// file, a PID (its /proc/PID/ns/net), or empty for the caller's own.
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace wgbpf {

class NetnsHandle {
public:
    static Result<NetnsHandle> open(std::string_view spec);
    // Every network namespace of the host that wgbpf can reach: the caller's, each /run/netns/NAME, and
    // each other one a process is in (containers). Deduplicated; the caller's first.
    static Result<std::vector<NetnsHandle>> open_all();
    NetnsHandle(NetnsHandle&& o) noexcept = default;
    NetnsHandle& operator=(NetnsHandle&& o) noexcept = default;
    NetnsHandle(const NetnsHandle&) = delete;
    NetnsHandle& operator=(const NetnsHandle&) = delete;

    int fd() const { return fd_.get(); }
    uint32_t inode() const { return inode_; }
    const std::string& description() const { return description_; } // e.g. "wgbpf-lab-client (/run/netns/...)"
    const std::string& name() const { return name_; }               // e.g. "wgbpf-lab-client", "pid 812", "current"

private:
    static Result<NetnsHandle> open_path(const std::string& path, const std::string& description, std::string name);
    NetnsHandle(UniqueFd fd, uint32_t inode, std::string description, std::string name);
    UniqueFd fd_;
    uint32_t inode_ = 0;
    std::string description_;
    std::string name_;
};

// The UDP ports sockets are bound to in `ns` (IPv4 and IPv6; kernel sockets such as WireGuard's too).
Result<std::set<uint16_t>> bound_udp_ports(const NetnsHandle& ns);

// RAII: this thread enters the namespace; leaves (back to where it was) on destruction.
// Sockets opened inside stay bound to the namespace after leaving.
class NetnsScope {
public:
    static Result<NetnsScope> enter(const NetnsHandle& ns);
    NetnsScope(NetnsScope&& o) noexcept;
    NetnsScope& operator=(NetnsScope&&) = delete;
    NetnsScope(const NetnsScope&) = delete;
    ~NetnsScope();

private:
    explicit NetnsScope(UniqueFd original_fd) : original_fd_(std::move(original_fd)) {}
    UniqueFd original_fd_;
};

} // namespace wgbpf
