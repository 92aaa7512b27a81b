#include "netlink/nft_reader.hpp"

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <nftables/libnftables.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "netlink/nft_json.hpp"
#include "nftrace/trace_table_name.hpp"

namespace wgbpf {
namespace {

// Listings torn by a concurrent ruleset change are read again, after a pause that lets a burst of
// changes (a script adding rule after rule) pass.
constexpr int kReadAttempts = 10;
constexpr auto kRetryPause = std::chrono::milliseconds(5);

// libnftables sets up process-wide state (its gmp allocator hooks) and is not documented as
// thread-safe: one user at a time.
std::mutex nft_mutex;

struct NftCtxFree {
    void operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }
};
using NftCtx = std::unique_ptr<nft_ctx, NftCtxFree>;

struct NftGenFree {
    void operator()(nftnl_gen* gen) const { nftnl_gen_free(gen); }
};

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

// Runs a list command with the given output flags and returns what nft printed.
Result<std::string> list(nft_ctx* ctx, const char* command, unsigned int flags) {
    nft_ctx_output_set_flags(ctx, flags);
    int rc = nft_run_cmd_from_buffer(ctx, command);
    // The getters hand out the buffer and rewind it for the next command: copy now.
    std::string out = nft_ctx_get_output_buffer(ctx);
    std::string err = trimmed(nft_ctx_get_error_buffer(ctx));
    if (rc != 0) return Error{fmt::format("nft {} failed: {}", command, err.empty() ? "no reason given" : err)};
    return out;
}

// The ruleset generation: bumped by every committed change, so equal before and after the two
// listings means both show the same ruleset.
Result<uint32_t> ruleset_generation(mnl_socket* sock) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* request = nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, 0);
    std::optional<uint32_t> id;
    int err = mnl_transact(sock, request, [&](const nlmsghdr* reply) {
        std::unique_ptr<nftnl_gen, NftGenFree> gen(nftnl_gen_alloc());
        if (gen && nftnl_gen_nlmsg_parse(reply, gen.get()) == 0 && nftnl_gen_is_set(gen.get(), NFTNL_GEN_ID))
            id = nftnl_gen_get_u32(gen.get(), NFTNL_GEN_ID);
    });
    if (err != 0)
        return Error{fmt::format("cannot read the nftables generation: {}{}", std::strerror(err),
                                 err == EPERM ? " (needs CAP_NET_ADMIN)" : "")};
    if (!id) return Error{"cannot read the nftables generation: no generation id in the reply"};
    return *id;
}

// iptables-legacy tables instantiated in this thread's namespace: one name a line. The file is absent
// while the x_tables modules are not loaded, which means none.
void read_legacy_tables(uint8_t pf, const char* file, std::vector<LegacyTable>& out) {
    // thread-self: /proc/self/net would show the namespace of the main thread, not this one's.
    std::ifstream in(std::string("/proc/thread-self/net/") + file);
    std::string name;
    while (std::getline(in, name))
        if (!name.empty()) out.push_back(LegacyTable{.pf = pf, .name = name});
}

} // namespace

Result<NftRuleset> read_nft_ruleset(const NetnsHandle& ns) {
    std::lock_guard lock(nft_mutex);
    auto scope = NetnsScope::enter(ns);
    if (!scope) return scope;
    auto sock = open_mnl_socket(NETLINK_NETFILTER);
    if (!sock) return Error{fmt::format("{} in {}", sock.error(), ns.description())};
    // Created inside the namespace: libnftables' own netlink socket must live there too.
    NftCtx ctx(nft_ctx_new(NFT_CTX_DEFAULT));
    if (!ctx) return Error{"cannot create an nftables context"};
    if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0)
        return Error{"cannot buffer nftables output"};

    std::string json, text;
    for (int attempt = 1;; ++attempt) {
        auto before = ruleset_generation(sock->get());
        if (!before) return Error{fmt::format("{} in {}", before.error(), ns.description())};
        // Not `list ruleset` as JSON: see nft_json.hpp.
        auto chains = list(ctx.get(), "list chains", NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE);
        if (!chains) return Error{fmt::format("{} in {}", chains.error(), ns.description())};
        auto ruleset =
            list(ctx.get(), "list ruleset",
                 NFT_CTX_OUTPUT_HANDLE | NFT_CTX_OUTPUT_STATELESS); // no counter values: rule text stays stable
        if (!ruleset) return Error{fmt::format("{} in {}", ruleset.error(), ns.description())};
        auto after = ruleset_generation(sock->get());
        if (!after) return Error{fmt::format("{} in {}", after.error(), ns.description())};
        json = std::move(*chains);
        text = std::move(*ruleset);
        // Each listing is consistent in itself (libnftables rereads its dumps when the generation moves);
        // together they may straddle a change. Under non-stop changes the last attempt is taken anyway:
        // the parser checks that both show the same chains, and the ruleset change watcher reports it.
        if (*before == *after || attempt == kReadAttempts) break;
        std::this_thread::sleep_for(kRetryPause);
    }

    auto rs = parse_nft_ruleset(json, text);
    if (!rs) return Error{fmt::format("{} in {}", rs.error(), ns.description())};
    remove_wgbpf_trace_tables(*rs); // `watch --nftrace` adds one: wgbpf's, not the user's
    read_legacy_tables(kNfprotoIpv4, "ip_tables_names", rs->legacy);
    read_legacy_tables(kNfprotoIpv6, "ip6_tables_names", rs->legacy);
    return rs;
}

} // namespace wgbpf
