#pragma once
// wgbpf's own trace table in a namespace: `table inet wgbpf_trace_<pid>` with the owner flag, a base chain on
// each inet hook at the lowest priority, and rules `<match> meta nftrace set 1` for the watched packets
// (nftrace/trace_rules). Created in one batch on a netlink socket that this object keeps open: the kernel
// deletes an owned table when that socket closes, so the table cannot outlive wgbpf, not even after
// SIGKILL. The user's ruleset is never touched. Needs CAP_NET_ADMIN and Linux 5.12+ (the owner flag).
#include <memory>
#include <string>

#include "common/result.hpp"
#include "netlink/mnl_socket.hpp"
#include "netlink/netns.hpp"
#include "nftrace/trace_rules.hpp"

namespace wgbpf {

class NftTraceTable {
public:
    // Fails, saying why, when the kernel refuses (no permission, no owner flag, no nf_tables).
    static Result<std::unique_ptr<NftTraceTable>> create(const NetnsHandle& ns, const TraceScope& scope);

    const std::string& name() const { return name_; }
    size_t rules() const { return rules_; }

private:
    NftTraceTable(MnlSocket sock, std::string name, size_t rules)
        : sock_(std::move(sock)), name_(std::move(name)), rules_(rules) {}
    MnlSocket sock_; // the table's owner: closing it deletes the table
    std::string name_;
    size_t rules_ = 0;
};

} // namespace wgbpf
