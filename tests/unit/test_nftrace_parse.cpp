// NFT_MSG_TRACE messages, built here as the kernel builds them, decoded into nftrace events.
#include <catch2/catch_test_macros.hpp>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <string>
#include <vector>

#include "netlink/nftrace_parse.hpp"

using namespace wgbpf;

namespace {

// One trace message: family, table, chain, type, id; the rest added by the test.
class TraceMessage {
public:
    TraceMessage(uint8_t family, const char* table, const char* chain, uint32_t type, uint32_t id) : buf_(4096) {
        nlh_ = mnl_nlmsg_put_header(buf_.data());
        nlh_->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_TRACE;
        auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(nfgenmsg)));
        nfg->nfgen_family = family;
        nfg->version = NFNETLINK_V0;
        mnl_attr_put_strz(nlh_, NFTA_TRACE_TABLE, table);
        mnl_attr_put_strz(nlh_, NFTA_TRACE_CHAIN, chain);
        mnl_attr_put_u32(nlh_, NFTA_TRACE_TYPE, htonl(type));
        mnl_attr_put_u32(nlh_, NFTA_TRACE_ID, htonl(id));
    }
    TraceMessage& u32(uint16_t attr, uint32_t v) {
        mnl_attr_put_u32(nlh_, attr, htonl(v));
        return *this;
    }
    TraceMessage& u8(uint16_t attr, uint8_t v) {
        mnl_attr_put_u8(nlh_, attr, v);
        return *this;
    }
    TraceMessage& handle(uint64_t h) {
        mnl_attr_put_u64(nlh_, NFTA_TRACE_RULE_HANDLE, htobe64(h));
        return *this;
    }
    TraceMessage& bytes(uint16_t attr, const std::vector<uint8_t>& b) {
        mnl_attr_put(nlh_, attr, b.size(), b.data());
        return *this;
    }
    TraceMessage& verdict(int32_t code, const char* target = nullptr) {
        nlattr* nest = mnl_attr_nest_start(nlh_, NFTA_TRACE_VERDICT);
        mnl_attr_put_u32(nlh_, NFTA_VERDICT_CODE, htonl(uint32_t(code)));
        if (target) mnl_attr_put_strz(nlh_, NFTA_VERDICT_CHAIN, target);
        mnl_attr_nest_end(nlh_, nest);
        return *this;
    }
    const nlmsghdr* get() const { return nlh_; }

private:
    std::vector<char> buf_;
    nlmsghdr* nlh_;
};

// The seed's ping: 10.0.0.1 -> 198.51.100.9, id 44121, length 84, ICMP echo request id 29717 seq 1.
const std::vector<uint8_t> kIpv4Header = {0x45, 0x00, 0x00, 0x54, 0xac, 0x59, 0x40, 0x00, 0x40, 0x01,
                                          0x00, 0x00, 10,   0,    0,    1,    198,  51,   100,  9};
const std::vector<uint8_t> kIcmpEcho = {8, 0, 0x00, 0x00, 0x74, 0x15, 0x00, 0x01};

NftraceNames seed_names() {
    return {[](int ifindex) { return ifindex == 5 ? std::string("wg0") : std::string(); },
            [](const std::string& family, const std::string& table, const std::string& chain, uint64_t handle) {
                if (family == "ip" && table == "wg-quick-wg0" && chain == "postmangle" && handle == 12)
                    return std::string("meta l4proto udp meta mark 0x0000ca6c ct mark set meta mark");
                return std::string();
            }};
}

} // namespace

TEST_CASE("a rule event with its packet decodes into every field nftrace shows") {
    TraceMessage m(NFPROTO_IPV4, "wg-quick-wg0", "postmangle", NFT_TRACETYPE_RULE, 0x6ca3695d);
    m.handle(12)
        .verdict(NFT_CONTINUE)
        .u32(NFTA_TRACE_OIF, 5)
        .u32(NFTA_TRACE_MARK, 0xca6c)
        .u32(NFTA_TRACE_NFPROTO, NFPROTO_IPV4)
        .bytes(NFTA_TRACE_NETWORK_HEADER, kIpv4Header)
        .bytes(NFTA_TRACE_TRANSPORT_HEADER, kIcmpEcho)
        .u32(21 /* NFTA_TRACE_CT_STATE */, 8 /* new */)
        .u8(19 /* NFTA_TRACE_CT_DIRECTION */, 0);
    auto e = parse_nftrace_message(m.get(), 1234, seed_names());
    REQUIRE(e);
    CHECK(e->trace_id == 0x6ca3695d);
    CHECK(e->family == "ip");
    CHECK(e->table == "wg-quick-wg0");
    CHECK(e->chain == "postmangle");
    CHECK(e->kind == NftraceKind::rule);
    CHECK(e->rule_handle == 12u);
    CHECK(e->rule == "meta l4proto udp meta mark 0x0000ca6c ct mark set meta mark");
    CHECK(e->verdict == "continue");
    CHECK(e->mark == 0xca6cu);
    CHECK(e->ct_state == "new");
    CHECK(e->t_ns == 1234);
    REQUIRE(e->packet);
    const NftracePacket& p = *e->packet;
    CHECK(p.oif == "wg0");
    CHECK(p.iif.empty());
    CHECK(p.family == Family::ipv4);
    CHECK(p.saddr->to_string() == "10.0.0.1");
    CHECK(p.daddr->to_string() == "198.51.100.9");
    CHECK(p.ip_id == 44121);
    CHECK(p.length == 84);
    CHECK(p.l4proto == 1);
    CHECK(p.icmp_type == 8);
    CHECK(p.icmp_code == 0);
    CHECK(p.icmp_id == 29717);
    CHECK(p.icmp_sequence == 1);
    CHECK_FALSE(p.sport);
}

TEST_CASE("policy, end of chain, jumps and drops are told apart") {
    SECTION("policy") {
        TraceMessage m(NFPROTO_INET, "filter", "input", NFT_TRACETYPE_POLICY, 7);
        m.u32(NFTA_TRACE_POLICY, NF_DROP);
        auto e = parse_nftrace_message(m.get(), 0);
        REQUIRE(e);
        CHECK(e->family == "inet");
        CHECK(e->kind == NftraceKind::policy);
        CHECK(e->verdict == "drop");
        CHECK_FALSE(e->packet);
        CHECK_FALSE(e->rule_handle);
    }
    SECTION("a rule event without a rule is the chain's end, as nft prints it") {
        TraceMessage m(NFPROTO_INET, "filter", "output", NFT_TRACETYPE_RULE, 7);
        m.verdict(NFT_CONTINUE);
        auto e = parse_nftrace_message(m.get(), 0);
        REQUIRE(e);
        CHECK(e->kind == NftraceKind::verdict);
        CHECK(e->verdict == "continue");
    }
    SECTION("jump names its target") {
        TraceMessage m(NFPROTO_INET, "filter", "input", NFT_TRACETYPE_RULE, 7);
        m.handle(4).verdict(NFT_JUMP, "global");
        auto e = parse_nftrace_message(m.get(), 0);
        REQUIRE(e);
        CHECK(e->verdict == "jump global");
        CHECK(e->rule.empty()); // no names given
    }
    SECTION("a drop carrying an errno is still a drop") {
        TraceMessage m(NFPROTO_INET, "filter", "output", NFT_TRACETYPE_RULE, 7);
        m.handle(9).verdict(int32_t((EPERM << 16) | NF_DROP));
        auto e = parse_nftrace_message(m.get(), 0);
        REQUIRE(e);
        CHECK(e->verdict == "drop");
    }
    SECTION("return from a regular chain") {
        TraceMessage m(NFPROTO_INET, "filter", "global", NFT_TRACETYPE_RETURN, 7);
        m.verdict(NFT_RETURN);
        auto e = parse_nftrace_message(m.get(), 0);
        REQUIRE(e);
        CHECK(e->kind == NftraceKind::verdict);
        CHECK(e->verdict == "return");
    }
}

TEST_CASE("IPv6 and UDP headers decode; an extension header leaves the protocol unknown") {
    std::vector<uint8_t> ip6(40, 0);
    ip6[0] = 0x60;
    ip6[5] = 16; // payload length
    ip6[6] = 17; // UDP
    ip6[8] = 0xfd;
    ip6[23] = 1; // fd00::1
    ip6[24] = 0xfd;
    ip6[39] = 2; // fd00::2
    const std::vector<uint8_t> udp = {0xca, 0x6c, 0x00, 0x35, 0, 16, 0, 0};
    TraceMessage m(NFPROTO_INET, "filter", "output", NFT_TRACETYPE_RULE, 1);
    m.handle(3)
        .verdict(NF_ACCEPT)
        .bytes(NFTA_TRACE_NETWORK_HEADER, ip6)
        .bytes(NFTA_TRACE_TRANSPORT_HEADER, udp)
        .u32(21, 2 /* established */)
        .u8(19, 1 /* reply */);
    auto e = parse_nftrace_message(m.get(), 0);
    REQUIRE(e);
    REQUIRE(e->packet);
    CHECK(e->packet->family == Family::ipv6);
    CHECK(e->packet->saddr->to_string() == "fd00::1");
    CHECK(e->packet->daddr->to_string() == "fd00::2");
    CHECK(e->packet->length == 56);
    CHECK(e->packet->l4proto == 17);
    CHECK(e->packet->sport == 51820);
    CHECK(e->packet->dport == 53);
    CHECK_FALSE(e->packet->ip_id);
    CHECK(e->verdict == "accept");
    CHECK(e->ct_state == "established reply");

    ip6[6] = 0; // hop-by-hop options
    TraceMessage ext(NFPROTO_INET, "filter", "output", NFT_TRACETYPE_RULE, 1);
    ext.handle(3).verdict(NF_ACCEPT).bytes(NFTA_TRACE_NETWORK_HEADER, ip6).bytes(NFTA_TRACE_TRANSPORT_HEADER, udp);
    auto e2 = parse_nftrace_message(ext.get(), 0);
    REQUIRE(e2);
    CHECK_FALSE(e2->packet->l4proto);
    CHECK_FALSE(e2->packet->sport);
}

TEST_CASE("messages that are not trace messages, or lack what every trace has, are errors") {
    TraceMessage m(NFPROTO_INET, "filter", "output", NFT_TRACETYPE_RULE, 1);
    auto* other = const_cast<nlmsghdr*>(m.get());
    other->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE;
    CHECK_FALSE(is_nftrace_message(other));
    CHECK_FALSE(parse_nftrace_message(other, 0));

    std::vector<char> buf(256);
    nlmsghdr* bare = mnl_nlmsg_put_header(buf.data());
    bare->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_TRACE;
    mnl_nlmsg_put_extra_header(bare, sizeof(nfgenmsg));
    mnl_attr_put_strz(bare, NFTA_TRACE_TABLE, "filter");
    auto e = parse_nftrace_message(bare, 0); // no id, no type
    CHECK_FALSE(e);
}

TEST_CASE("a trace message cut short or garbled is an error or an event, never a crash") {
    TraceMessage m(NFPROTO_IPV4, "wg-quick-wg0", "postmangle", NFT_TRACETYPE_RULE, 0x6ca3695d);
    m.handle(12)
        .verdict(NFT_JUMP, "global")
        .u32(NFTA_TRACE_OIF, 5)
        .bytes(NFTA_TRACE_NETWORK_HEADER, kIpv4Header)
        .bytes(NFTA_TRACE_TRANSPORT_HEADER, kIcmpEcho)
        .u32(21, 8);
    const uint32_t full = m.get()->nlmsg_len;
    std::vector<char> copy(reinterpret_cast<const char*>(m.get()), reinterpret_cast<const char*>(m.get()) + full);
    size_t parsed = 0;
    for (uint32_t len = sizeof(nlmsghdr); len <= full; ++len) {
        // Netlink pads every message to 4 bytes (libmnl reads attributes up to the padded end): so does the test.
        std::vector<char> cut(copy.begin(), copy.begin() + len);
        cut.resize(MNL_ALIGN(len), 0);
        reinterpret_cast<nlmsghdr*>(cut.data())->nlmsg_len = len;
        parsed += parse_nftrace_message(reinterpret_cast<const nlmsghdr*>(cut.data()), 0, seed_names()).ok();
    }
    CHECK(parsed > 0); // the full message at least
    // Every byte after the netlink header flipped in turn: attribute lengths and types go wrong everywhere.
    for (size_t at = sizeof(nlmsghdr); at < full; ++at) {
        std::vector<char> garbled = copy;
        garbled[at] = char(~garbled[at]);
        auto e = parse_nftrace_message(reinterpret_cast<const nlmsghdr*>(garbled.data()), 0, seed_names());
        if (e) CHECK_FALSE(e->table.empty());
    }
}
