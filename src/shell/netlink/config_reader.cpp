#include "netlink/config_reader.hpp"

#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>
#include <vector>

#include "netlink/mnl_socket.hpp"
#include "netlink/nft_reader.hpp"
#include "netlink/rt_tables.hpp"
#include "netlink/rtnl_parse.hpp"

namespace wgbpf {
namespace {

constexpr int kDumpAttempts = 5; // a dump interrupted by concurrent changes is repeated

// Builds a dump request whose fixed header is T with its family field set.
template <typename T>
nlmsghdr* put_dump_request(char* buf, uint16_t type, T header) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    auto* payload = static_cast<T*>(mnl_nlmsg_put_extra_header(nlh, sizeof(T)));
    *payload = header;
    return nlh;
}

// Dumps with `request` and appends what `parse` accepts; repeats the dump if the kernel says it was torn.
template <typename T, typename Parse>
Result<void> dump(mnl_socket* sock, nlmsghdr* request, const char* what, Parse parse, std::vector<T>& out) {
    size_t start = out.size();
    for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
        out.resize(start);
        int err = mnl_transact(sock, request, [&](const nlmsghdr* nlh) {
            if (auto item = parse(nlh)) out.push_back(std::move(*item));
        });
        if (err == 0) return {};
        if (err != EINTR) return Error{fmt::format("netlink dump of {} failed: {}", what, std::strerror(err))};
    }
    return Error{fmt::format("netlink dump of {} kept being interrupted by concurrent changes", what)};
}

std::optional<int> read_int_file(const std::string& path) {
    std::ifstream in(path);
    int v;
    if (in >> v) return v;
    return std::nullopt;
}

// /proc/sys/net is resolved against the namespace of the task doing the lookup, so reading it while
// this thread is inside the namespace gives that namespace's values (checked for threads after setns).
void read_ipv4_conf(NetnsConfig& cfg) {
    std::vector<std::string> names{"all", "default"};
    for (const Link& l : cfg.links) names.push_back(l.name);
    for (const std::string& name : names) {
        std::string dir = "/proc/sys/net/ipv4/conf/" + name + "/";
        auto rp = read_int_file(dir + "rp_filter");
        auto svm = read_int_file(dir + "src_valid_mark");
        if (rp || svm)
            cfg.ipv4_conf[name] = Ipv4Conf{rp.value_or(0), svm.value_or(0), read_int_file(dir + "forwarding")};
    }
}

} // namespace

Result<NetnsConfig> read_netns_config(const NetnsHandle& ns) {
    NetnsConfig cfg;
    cfg.netns_inode = ns.inode();
    {
        auto scope = NetnsScope::enter(ns);
        if (!scope) return scope;
        auto sock = open_mnl_socket(NETLINK_ROUTE);
        if (!sock) return Error{fmt::format("{} in {}", sock.error(), ns.description())};

        std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
        auto links = dump(sock->get(), put_dump_request(buf.data(), RTM_GETLINK, ifinfomsg{.ifi_family = AF_UNSPEC}),
                          "links", parse_link, cfg.links);
        if (!links) return links;
        for (uint8_t af : {AF_INET, AF_INET6}) {
            auto rules = dump(sock->get(), put_dump_request(buf.data(), RTM_GETRULE, fib_rule_hdr{.family = af}),
                              af == AF_INET ? "IPv4 rules" : "IPv6 rules", parse_rule, cfg.rules);
            if (!rules) return rules;
            // rtm_table = RT_TABLE_UNSPEC: every table.
            auto routes =
                dump(sock->get(),
                     put_dump_request(buf.data(), RTM_GETROUTE, rtmsg{.rtm_family = af, .rtm_table = RT_TABLE_UNSPEC}),
                     af == AF_INET ? "IPv4 routes" : "IPv6 routes", parse_route, cfg.routes);
            if (!routes) return routes;
        }
        read_ipv4_conf(cfg);
    }
    cfg.sort_routes();
    cfg.table_names = read_rt_tables();
    // The ruleset is context: without it the routing configuration is still worth having.
    if (auto nft = read_nft_ruleset(ns)) {
        cfg.nft = std::move(*nft);
    } else {
        cfg.nft.available = false;
        cfg.nft.error = nft.error();
    }
    return cfg;
}

} // namespace wgbpf
