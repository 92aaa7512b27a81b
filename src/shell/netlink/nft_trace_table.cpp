#include "netlink/nft_trace_table.hpp"

#include <arpa/inet.h> // before the linux/ headers, which define in_addr too
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "nftrace/trace_table_name.hpp"

namespace wgbpf {
namespace {

struct TableFree {
    void operator()(nftnl_table* t) const { nftnl_table_free(t); }
};
struct ChainFree {
    void operator()(nftnl_chain* c) const { nftnl_chain_free(c); }
};
struct RuleFree {
    void operator()(nftnl_rule* r) const { nftnl_rule_free(r); }
};

using Field = TraceCondition::Field;
constexpr uint32_t kReg = NFT_REG_1;

uint32_t hook_number(NfHook h) {
    switch (h) {
    case NfHook::prerouting: return NF_INET_PRE_ROUTING;
    case NfHook::input: return NF_INET_LOCAL_IN;
    case NfHook::forward: return NF_INET_FORWARD;
    case NfHook::output: return NF_INET_LOCAL_OUT;
    case NfHook::postrouting: return NF_INET_POST_ROUTING;
    case NfHook::ingress: break;
    }
    return NF_INET_PRE_ROUTING;
}

// Every expression is owned by the rule once added.
void add_meta_load(nftnl_rule* r, uint32_t key) {
    nftnl_expr* e = nftnl_expr_alloc("meta");
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, kReg);
    nftnl_rule_add_expr(r, e);
}

void add_payload_load(nftnl_rule* r, uint32_t base, uint32_t offset, uint32_t len) {
    nftnl_expr* e = nftnl_expr_alloc("payload");
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, kReg);
    nftnl_rule_add_expr(r, e);
}

void add_cmp_eq(nftnl_rule* r, const void* data, uint32_t len) {
    nftnl_expr* e = nftnl_expr_alloc("cmp");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, kReg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
    nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
    nftnl_rule_add_expr(r, e);
}

// One condition as nft compiles it: load into a register, compare. Numbers in the byte order the kernel
// keeps them: meta values in host order, header fields in network order.
void add_condition(nftnl_rule* r, const TraceCondition& c, bool ipv6) {
    switch (c.field) {
    case Field::iifname:
    case Field::oifname: {
        char name[IFNAMSIZ] = {};
        std::strncpy(name, c.name.c_str(), IFNAMSIZ - 1);
        add_meta_load(r, c.field == Field::iifname ? NFT_META_IIFNAME : NFT_META_OIFNAME);
        add_cmp_eq(r, name, IFNAMSIZ);
        return;
    }
    case Field::mark:
        add_meta_load(r, NFT_META_MARK);
        add_cmp_eq(r, &c.number, sizeof c.number);
        return;
    case Field::nfproto:
    case Field::l4proto: {
        uint8_t v = uint8_t(c.number);
        add_meta_load(r, c.field == Field::nfproto ? NFT_META_NFPROTO : NFT_META_L4PROTO);
        add_cmp_eq(r, &v, 1);
        return;
    }
    case Field::saddr:
    case Field::daddr: {
        uint32_t offset = ipv6 ? (c.field == Field::saddr ? 8 : 24) : (c.field == Field::saddr ? 12 : 16);
        uint32_t len = uint32_t(c.address.size());
        add_payload_load(r, NFT_PAYLOAD_NETWORK_HEADER, offset, len);
        add_cmp_eq(r, c.address.bytes.data(), len);
        return;
    }
    case Field::sport:
    case Field::dport: {
        uint16_t port = htons(uint16_t(c.number));
        add_payload_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, c.field == Field::sport ? 0 : 2, 2);
        add_cmp_eq(r, &port, 2);
        return;
    }
    }
}

void add_set_nftrace(nftnl_rule* r) {
    uint8_t one = 1;
    nftnl_expr* imm = nftnl_expr_alloc("immediate");
    nftnl_expr_set_u32(imm, NFTNL_EXPR_IMM_DREG, kReg);
    nftnl_expr_set(imm, NFTNL_EXPR_IMM_DATA, &one, sizeof one);
    nftnl_rule_add_expr(r, imm);
    nftnl_expr* set = nftnl_expr_alloc("meta");
    nftnl_expr_set_u32(set, NFTNL_EXPR_META_KEY, NFT_META_NFTRACE);
    nftnl_expr_set_u32(set, NFTNL_EXPR_META_SREG, kReg);
    nftnl_rule_add_expr(r, set);
}

// The batch: table, chains, rules, each message acknowledged so that every one reports its outcome.
class Batch {
public:
    explicit Batch(size_t messages) : buf_(8192 + messages * 1024), seq_(uint32_t(std::time(nullptr))) {
        batch_ = mnl_nlmsg_batch_start(buf_.data(), buf_.size());
        nftnl_batch_begin(static_cast<char*>(mnl_nlmsg_batch_current(batch_)), seq_++);
        mnl_nlmsg_batch_next(batch_);
    }
    ~Batch() { mnl_nlmsg_batch_stop(batch_); }
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

    char* next() { return static_cast<char*>(mnl_nlmsg_batch_current(batch_)); }
    uint32_t seq() { return seq_++; }
    void added() {
        ++acks_;
        mnl_nlmsg_batch_next(batch_);
    }
    void end() {
        nftnl_batch_end(next(), seq_++);
        mnl_nlmsg_batch_next(batch_);
    }
    const void* head() const { return mnl_nlmsg_batch_head(batch_); }
    size_t size() const { return mnl_nlmsg_batch_size(batch_); }
    size_t acks() const { return acks_; }

private:
    std::vector<char> buf_;
    mnl_nlmsg_batch* batch_;
    uint32_t seq_;
    size_t acks_ = 0;
};

// Reads one reply per message; the first error, as an errno value, or 0.
int read_acks(mnl_socket* sock, size_t expected) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    size_t seen = 0;
    while (seen < expected) {
        pollfd pfd{mnl_socket_get_fd(sock), POLLIN, 0};
        int ready = ::poll(&pfd, 1, 5000);
        if (ready == 0) return ETIMEDOUT;
        if (ready < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        ssize_t n = mnl_socket_recvfrom(sock, buf.data(), buf.size());
        if (n < 0) return errno;
        int len = int(n);
        for (auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len);
             nlh = mnl_nlmsg_next(nlh, &len)) {
            if (nlh->nlmsg_type != NLMSG_ERROR) continue;
            ++seen;
            const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
            if (err->error != 0) return -err->error;
        }
    }
    return 0;
}

std::string refusal(int err) {
    std::string why = std::strerror(err);
    if (err == EPERM) return why + " (needs CAP_NET_ADMIN in the namespace)";
    if (err == EOPNOTSUPP || err == EINVAL)
        return why + " (the kernel does not know the table owner flag: Linux 5.12 or later is needed)";
    if (err == EPROTONOSUPPORT || err == ENOENT) return why + " (nf_tables or the inet family is not available)";
    return why;
}

} // namespace

Result<std::unique_ptr<NftTraceTable>> NftTraceTable::create(const NetnsHandle& ns, const TraceScope& scope) {
    const std::string name = trace_table_name(::getpid());
    const std::vector<TraceChainPlan> chains = plan_trace_chains(scope);
    auto where = NetnsScope::enter(ns);
    if (!where) return where;
    auto sock = open_mnl_socket(NETLINK_NETFILTER);
    if (!sock) return Error{fmt::format("{} in {}", sock.error(), ns.description())};

    size_t rules = 0;
    for (const TraceChainPlan& c : chains) rules += c.rules.size();
    Batch batch(1 + chains.size() + rules);

    std::unique_ptr<nftnl_table, TableFree> table(nftnl_table_alloc());
    nftnl_table_set_str(table.get(), NFTNL_TABLE_NAME, name.c_str());
    nftnl_table_set_u32(table.get(), NFTNL_TABLE_FAMILY, NFPROTO_INET);
    nftnl_table_set_u32(table.get(), NFTNL_TABLE_FLAGS, NFT_TABLE_F_OWNER);
    nftnl_table_nlmsg_build_payload(nftnl_table_nlmsg_build_hdr(batch.next(), NFT_MSG_NEWTABLE, NFPROTO_INET,
                                                                NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, batch.seq()),
                                    table.get());
    batch.added();

    for (const TraceChainPlan& plan : chains) {
        const std::string chain_name(hook_name(plan.hook));
        std::unique_ptr<nftnl_chain, ChainFree> chain(nftnl_chain_alloc());
        nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_TABLE, name.c_str());
        nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_NAME, chain_name.c_str());
        nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_TYPE, "filter");
        nftnl_chain_set_u32(chain.get(), NFTNL_CHAIN_HOOKNUM, hook_number(plan.hook));
        nftnl_chain_set_s32(chain.get(), NFTNL_CHAIN_PRIO, kTraceChainPriority);
        nftnl_chain_set_u32(chain.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
        nftnl_chain_nlmsg_build_payload(nftnl_chain_nlmsg_build_hdr(batch.next(), NFT_MSG_NEWCHAIN, NFPROTO_INET,
                                                                    NLM_F_CREATE | NLM_F_ACK, batch.seq()),
                                        chain.get());
        batch.added();

        for (const TraceRule& rule : plan.rules) {
            std::unique_ptr<nftnl_rule, RuleFree> r(nftnl_rule_alloc());
            nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, name.c_str());
            nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain_name.c_str());
            nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, NFPROTO_INET);
            bool ipv6 = false;
            for (const TraceCondition& c : rule.match)
                if (c.field == Field::nfproto) ipv6 = c.number == NFPROTO_IPV6;
            for (const TraceCondition& c : rule.match) add_condition(r.get(), c, ipv6);
            add_set_nftrace(r.get());
            nftnl_rule_nlmsg_build_payload(nftnl_rule_nlmsg_build_hdr(batch.next(), NFT_MSG_NEWRULE, NFPROTO_INET,
                                                                      NLM_F_APPEND | NLM_F_CREATE | NLM_F_ACK,
                                                                      batch.seq()),
                                           r.get());
            batch.added();
        }
    }
    batch.end();

    if (mnl_socket_sendto(sock->get(), batch.head(), batch.size()) < 0)
        return Error{fmt::format("cannot create the trace table in {}: {}", ns.description(), refusal(errno))};
    if (int err = read_acks(sock->get(), batch.acks()); err != 0)
        return Error{
            fmt::format("the kernel refused the trace table inet {} in {}: {}", name, ns.description(), refusal(err))};
    return std::unique_ptr<NftTraceTable>(new NftTraceTable(std::move(sock.value()), name, rules));
}

} // namespace wgbpf
