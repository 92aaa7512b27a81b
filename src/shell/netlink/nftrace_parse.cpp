#include "netlink/nftrace_parse.hpp"

#include <arpa/inet.h> // before the linux/ headers, which define in_addr too
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <fmt/format.h>

#include <endian.h>

namespace wgbpf {
namespace {

// Conntrack attributes (Linux 6.16+), newer than this system's headers.
constexpr uint16_t kTraceCtDirection = 19, kTraceCtState = 21; // CT_ID 18 and CT_STATUS 20 are not shown
constexpr uint16_t kTraceAttrMax = kTraceCtState;
// NF_CT_STATE_*_BIT (include/uapi/linux/netfilter/nf_conntrack_common.h).
constexpr uint32_t kCtInvalid = 1, kCtEstablished = 2, kCtRelated = 4, kCtNew = 8, kCtUntracked = 64;

constexpr uint8_t kIcmp = 1, kTcp = 6, kUdp = 17, kIcmpv6 = 58;

std::string family_text(uint32_t nfproto) {
    switch (nfproto) {
    case NFPROTO_INET: return "inet";
    case NFPROTO_IPV4: return "ip";
    case NFPROTO_IPV6: return "ip6";
    case NFPROTO_ARP: return "arp";
    case NFPROTO_NETDEV: return "netdev";
    case NFPROTO_BRIDGE: return "bridge";
    }
    return fmt::format("family {}", nfproto);
}

std::string verdict_text(uint32_t code, const char* target) {
    switch (int32_t(code)) {
    case NFT_CONTINUE: return "continue";
    case NFT_BREAK: return "break";
    case NFT_JUMP: return fmt::format("jump {}", target ? target : "?");
    case NFT_GOTO: return fmt::format("goto {}", target ? target : "?");
    case NFT_RETURN: return "return";
    }
    switch (code & NF_VERDICT_MASK) { // a drop may carry an errno above the mask
    case NF_DROP: return "drop";
    case NF_ACCEPT: return "accept";
    case NF_STOLEN: return "stolen";
    case NF_QUEUE: return "queue";
    case NF_REPEAT: return "repeat";
    }
    return fmt::format("verdict {}", code);
}

std::string ct_state_text(uint32_t bits) {
    if (bits & kCtNew) return "new";
    if (bits & kCtEstablished) return "established";
    if (bits & kCtRelated) return "related";
    if (bits & kCtUntracked) return "untracked";
    if (bits & kCtInvalid) return "invalid";
    return {};
}

uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

// The network header (up to 40 bytes, as the kernel copies it) and the transport header after it.
void read_headers(const uint8_t* net, size_t net_len, const uint8_t* th, size_t th_len, NftracePacket& p) {
    if (net_len < 1) return;
    const uint8_t version = net[0] >> 4;
    if (version == 4 && net_len >= 20) {
        p.family = Family::ipv4;
        p.length = be16(net + 2);
        p.ip_id = be16(net + 4);
        p.l4proto = net[9];
        p.saddr = IpAddress::from_bytes(Family::ipv4, net + 12);
        p.daddr = IpAddress::from_bytes(Family::ipv4, net + 16);
    } else if (version == 6 && net_len >= 40) {
        p.family = Family::ipv6;
        p.length = uint16_t(be16(net + 4) + 40);
        p.saddr = IpAddress::from_bytes(Family::ipv6, net + 8);
        p.daddr = IpAddress::from_bytes(Family::ipv6, net + 24);
        const uint8_t next = net[6];
        // An extension header hides the protocol: leave it (and the ports) unknown rather than guess.
        if (next == kTcp || next == kUdp || next == kIcmpv6) p.l4proto = next;
    } else {
        return;
    }
    if (!p.l4proto || !th) return;
    if ((*p.l4proto == kTcp || *p.l4proto == kUdp) && th_len >= 4) {
        p.sport = be16(th);
        p.dport = be16(th + 2);
    }
    if ((*p.l4proto == kIcmp || *p.l4proto == kIcmpv6) && th_len >= 2) {
        p.icmp_type = th[0];
        p.icmp_code = th[1];
        const bool echo = *p.l4proto == kIcmp ? (th[0] == 8 || th[0] == 0) : (th[0] == 128 || th[0] == 129);
        if (echo && th_len >= 8) {
            p.icmp_id = be16(th + 4);
            p.icmp_sequence = be16(th + 6);
        }
    }
}

// Attribute types as the kernel sends them; one of another type or size is left out, never trusted.
// (libnftnl's nftnl_trace_nlmsg_parse() would exit the process on such a message, so it is not used.)
int trace_attr_cb(const nlattr* attr, void* data) {
    auto** tb = static_cast<const nlattr**>(data);
    const uint16_t type = mnl_attr_get_type(attr);
    if (type > kTraceAttrMax) return MNL_CB_OK;
    mnl_attr_data_type expected;
    switch (type) {
    case NFTA_TRACE_TABLE:
    case NFTA_TRACE_CHAIN: expected = MNL_TYPE_NUL_STRING; break;
    case NFTA_TRACE_RULE_HANDLE: expected = MNL_TYPE_U64; break;
    case NFTA_TRACE_VERDICT: expected = MNL_TYPE_NESTED; break;
    case NFTA_TRACE_LL_HEADER:
    case NFTA_TRACE_NETWORK_HEADER:
    case NFTA_TRACE_TRANSPORT_HEADER: expected = MNL_TYPE_BINARY; break;
    case NFTA_TRACE_IIFTYPE:
    case NFTA_TRACE_OIFTYPE: expected = MNL_TYPE_U16; break;
    case kTraceCtDirection: expected = MNL_TYPE_U8; break;
    case NFTA_TRACE_PAD: return MNL_CB_OK;
    default: expected = MNL_TYPE_U32; break;
    }
    if (mnl_attr_validate(attr, expected) < 0) return MNL_CB_OK;
    tb[type] = attr;
    return MNL_CB_OK;
}

int verdict_attr_cb(const nlattr* attr, void* data) {
    auto** tb = static_cast<const nlattr**>(data);
    const uint16_t type = mnl_attr_get_type(attr);
    if (type == NFTA_VERDICT_CODE && mnl_attr_validate(attr, MNL_TYPE_U32) == 0) tb[type] = attr;
    if (type == NFTA_VERDICT_CHAIN && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0) tb[type] = attr;
    return MNL_CB_OK;
}

uint32_t be32_attr(const nlattr* a) { return ntohl(mnl_attr_get_u32(a)); }

} // namespace

bool is_nftrace_message(const nlmsghdr* nlh) {
    return NFNL_SUBSYS_ID(nlh->nlmsg_type) == NFNL_SUBSYS_NFTABLES && NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_TRACE;
}

Result<NftraceEvent> parse_nftrace_message(const nlmsghdr* nlh, uint64_t t_ns, const NftraceNames& names) {
    if (!is_nftrace_message(nlh))
        return Error{fmt::format("not an nftables trace message (type {:#x})", nlh->nlmsg_type)};
    if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nfgenmsg))) return Error{"trace message too short"};
    const nlattr* tb[kTraceAttrMax + 1] = {};
    if (mnl_attr_parse(nlh, sizeof(nfgenmsg), trace_attr_cb, tb) < 0) return Error{"malformed trace message"};
    if (!tb[NFTA_TRACE_ID] || !tb[NFTA_TRACE_TYPE]) return Error{"trace message without id or type"};
    if (!tb[NFTA_TRACE_TABLE] || !tb[NFTA_TRACE_CHAIN]) return Error{"trace message without table or chain"};
    const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));

    NftraceEvent e;
    e.t_ns = t_ns;
    e.trace_id = be32_attr(tb[NFTA_TRACE_ID]);
    e.family = family_text(nfg->nfgen_family);
    e.table = mnl_attr_get_str(tb[NFTA_TRACE_TABLE]);
    e.chain = mnl_attr_get_str(tb[NFTA_TRACE_CHAIN]);
    switch (be32_attr(tb[NFTA_TRACE_TYPE])) {
    case NFT_TRACETYPE_RULE: e.kind = NftraceKind::rule; break;
    case NFT_TRACETYPE_RETURN: e.kind = NftraceKind::verdict; break;
    case NFT_TRACETYPE_POLICY: e.kind = NftraceKind::policy; break;
    default: e.kind = NftraceKind::unknown; break;
    }
    if (tb[NFTA_TRACE_RULE_HANDLE]) e.rule_handle = be64toh(mnl_attr_get_u64(tb[NFTA_TRACE_RULE_HANDLE]));
    // The walk falling off a chain's end comes as a rule event without a rule (6.x kernels); nft prints it
    // as `verdict continue`, and so is it here.
    if (e.kind == NftraceKind::rule && !e.rule_handle) e.kind = NftraceKind::verdict;
    if (e.kind == NftraceKind::policy && tb[NFTA_TRACE_POLICY]) {
        e.verdict = verdict_text(be32_attr(tb[NFTA_TRACE_POLICY]), nullptr);
    } else if (tb[NFTA_TRACE_VERDICT]) {
        const nlattr* vb[NFTA_VERDICT_MAX + 1] = {};
        if (mnl_attr_parse_nested(tb[NFTA_TRACE_VERDICT], verdict_attr_cb, vb) >= 0 && vb[NFTA_VERDICT_CODE])
            e.verdict = verdict_text(be32_attr(vb[NFTA_VERDICT_CODE]),
                                     vb[NFTA_VERDICT_CHAIN] ? mnl_attr_get_str(vb[NFTA_VERDICT_CHAIN]) : nullptr);
    }
    if (tb[NFTA_TRACE_MARK]) e.mark = be32_attr(tb[NFTA_TRACE_MARK]);

    if (tb[NFTA_TRACE_NETWORK_HEADER]) {
        NftracePacket p;
        if (names.link) {
            if (tb[NFTA_TRACE_IIF]) p.iif = names.link(int(be32_attr(tb[NFTA_TRACE_IIF])));
            if (tb[NFTA_TRACE_OIF]) p.oif = names.link(int(be32_attr(tb[NFTA_TRACE_OIF])));
        }
        const nlattr* th = tb[NFTA_TRACE_TRANSPORT_HEADER];
        read_headers(static_cast<const uint8_t*>(mnl_attr_get_payload(tb[NFTA_TRACE_NETWORK_HEADER])),
                     mnl_attr_get_payload_len(tb[NFTA_TRACE_NETWORK_HEADER]),
                     th ? static_cast<const uint8_t*>(mnl_attr_get_payload(th)) : nullptr,
                     th ? mnl_attr_get_payload_len(th) : 0, p);
        e.packet = p;
    }
    if (tb[kTraceCtState]) {
        e.ct_state = ct_state_text(be32_attr(tb[kTraceCtState]));
        if (!e.ct_state.empty() && tb[kTraceCtDirection] && mnl_attr_get_u8(tb[kTraceCtDirection]) == 1)
            e.ct_state += " reply";
    }
    if (e.rule_handle && names.rule) e.rule = names.rule(e.family, e.table, e.chain, *e.rule_handle);
    return e;
}

} // namespace wgbpf
