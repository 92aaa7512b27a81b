// WireGuard configuration parsing: the UAPI text protocol (wireguard-go) and the kernel's genetlink reply.
#include <catch2/catch_test_macros.hpp>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>
#include <netinet/in.h>

#include <cstring>
#include <string>
#include <vector>

#include "netlink/wg_genl_parse.hpp"
#include "wireguard/wg_config.hpp"

using namespace wgbpf;

namespace {

// Key pairs from `wg genkey | wg pubkey`, base64 and the hex the UAPI uses.
constexpr const char* kPeer1B64 = "TDtT2iENWOzTIy7dZpSHvcpZ7cjgJVz7gwoNZDeWRSc=";
constexpr const char* kPeer1Hex = "4c3b53da210d58ecd3232edd669487bdca59edc8e0255cfb830a0d6437964527";
constexpr const char* kPeer2B64 = "iztxqbCl/CzjjEqptuqatsWHF59EXSObQjDwBkfCT00=";
constexpr const char* kPeer2Hex = "8b3b71a9b0a5fc2ce38c4aa9b6ea9ab6c587179f445d239b4230f00647c24f4d";
constexpr const char* kDeviceB64 = "nVMO7Cnd/+ZGiyG9KdmE5m/MCbubn/XOVWKPPenbaAM=";
constexpr const char* kDeviceHex = "9d530eec29ddffe6468b21bd29d984e66fcc09bb9b9ff5ce55628f3de9db6803";

std::vector<uint8_t> hex_bytes(const char* hex) {
    std::vector<uint8_t> out;
    for (size_t i = 0; hex[i] && hex[i + 1]; i += 2)
        out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex + i, 2), nullptr, 16)));
    return out;
}

// What wireguard-go answers to "get=1": interface keys, then each peer starting at public_key.
std::string wireguard_go_reply() {
    return std::string("private_key=") + kDeviceHex + "\n" +
           "listen_port=51999\n"
           "fwmark=51820\n"
           "public_key=" +
           kPeer1Hex + "\n" +
           "preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
           "protocol_version=1\n"
           "endpoint=203.0.113.9:51820\n"
           "last_handshake_time_sec=0\n"
           "last_handshake_time_nsec=0\n"
           "tx_bytes=0\n"
           "rx_bytes=0\n"
           "persistent_keepalive_interval=25\n"
           "allowed_ip=0.0.0.0/0\n"
           "allowed_ip=::/0\n"
           "public_key=" +
           kPeer2Hex + "\n" +
           "protocol_version=1\n"
           "endpoint=[2001:db8::9]:51821\n"
           "last_handshake_time_sec=1796000000\n"
           "allowed_ip=10.7.0.2/32\n"
           "allowed_ip=fd00:7::2/128\n"
           "errno=0\n"
           "\n";
}

} // namespace

TEST_CASE("base64 of keys", "[wg]") {
    auto bytes = hex_bytes(kPeer1Hex);
    REQUIRE(bytes.size() == 32);
    CHECK(key_to_base64(bytes.data()) == kPeer1B64);
    CHECK(hex_key_to_base64(kPeer2Hex) == std::optional<std::string>(kPeer2B64));
    CHECK(hex_key_to_base64(kDeviceHex) == std::optional<std::string>(kDeviceB64));
    CHECK_FALSE(hex_key_to_base64("abcd"));
    CHECK_FALSE(hex_key_to_base64(std::string(64, 'g')));
}

TEST_CASE("endpoint text", "[wg]") {
    CHECK(WgEndpoint{*IpAddress::parse("203.0.113.123"), 51820}.to_string() == "203.0.113.123:51820");
    CHECK(WgEndpoint{*IpAddress::parse("2001:db8::1"), 51820}.to_string() == "[2001:db8::1]:51820");
}

TEST_CASE("wireguard-go reply with two peers", "[wg]") {
    auto wg = parse_uapi_get(wireguard_go_reply(), "wg0");
    REQUIRE(wg.ok());
    CHECK(wg->name == "wg0");
    CHECK(wg->implementation == WgImplementation::uapi);
    CHECK(wg->public_key.empty()); // the UAPI only has the private key, which is never kept
    CHECK(wg->listen_port == 51999);
    CHECK(wg->fwmark == 51820);
    REQUIRE(wg->peers.size() == 2);
    const WgPeer& p1 = wg->peers[0];
    CHECK(p1.public_key == kPeer1B64);
    REQUIRE(p1.endpoint);
    CHECK(p1.endpoint->to_string() == "203.0.113.9:51820");
    REQUIRE(p1.allowed_ips.size() == 2);
    CHECK(p1.allowed_ips[0].to_string() == "default");
    CHECK(p1.allowed_ips[0].address.family == Family::ipv4);
    CHECK(p1.allowed_ips[1].address.family == Family::ipv6);
    CHECK(p1.allowed_ips[1].length == 0);
    CHECK(p1.last_handshake_unix_s == 0); // never
    const WgPeer& p2 = wg->peers[1];
    CHECK(p2.public_key == kPeer2B64);
    REQUIRE(p2.endpoint);
    CHECK(p2.endpoint->address.family == Family::ipv6);
    CHECK(p2.endpoint->port == 51821);
    CHECK(p2.endpoint->to_string() == "[2001:db8::9]:51821");
    CHECK(p2.last_handshake_unix_s == 1796000000);
    REQUIRE(p2.allowed_ips.size() == 2);
    CHECK(p2.allowed_ips[0].to_string() == "10.7.0.2");
    CHECK(p2.allowed_ips[1].to_string() == "fd00:7::2");
}

TEST_CASE("the private key is never kept", "[wg]") {
    auto wg = parse_uapi_get(wireguard_go_reply(), "wg0");
    REQUIRE(wg.ok());
    auto device_b64 = *hex_key_to_base64(kDeviceHex);
    CHECK(wg->public_key != device_b64);
    for (const auto& p : wg->peers) CHECK(p.public_key != device_b64);
}

TEST_CASE("a peer without endpoint, an interface without peers", "[wg]") {
    auto wg = parse_uapi_get(std::string("public_key=") + kPeer1Hex + "\nallowed_ip=10.0.0.0/8\nerrno=0\n\n", "wg1");
    REQUIRE(wg.ok());
    REQUIRE(wg->peers.size() == 1);
    CHECK_FALSE(wg->peers[0].endpoint);
    CHECK(wg->listen_port == 0);

    auto empty = parse_uapi_get("listen_port=0\nerrno=0\n\n", "wg2");
    REQUIRE(empty.ok());
    CHECK(empty->peers.empty());
}

TEST_CASE("UAPI errors: errno, truncation, garbage", "[wg]") {
    auto failed = parse_uapi_get("errno=19\n\n", "wg0");
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.error().find("errno=19") != std::string::npos);

    auto truncated = parse_uapi_get("listen_port=51820\n", "wg0");
    REQUIRE_FALSE(truncated.ok());
    CHECK(truncated.error().find("truncated") != std::string::npos);

    CHECK_FALSE(parse_uapi_get("", "wg0").ok());
    CHECK_FALSE(parse_uapi_get("this is not uapi\nerrno=0\n\n", "wg0").ok());
    CHECK_FALSE(parse_uapi_get("=value\nerrno=0\n\n", "wg0").ok());
    CHECK_FALSE(parse_uapi_get("listen_port=99999\nerrno=0\n\n", "wg0").ok());
    CHECK_FALSE(parse_uapi_get("public_key=xyz\nerrno=0\n\n", "wg0").ok());
    CHECK_FALSE(parse_uapi_get("endpoint=1.2.3.4:5\nerrno=0\n\n", "wg0").ok()); // before any peer
    auto peer = std::string("public_key=") + kPeer1Hex + "\n";
    CHECK_FALSE(parse_uapi_get(peer + "endpoint=1.2.3.4\nerrno=0\n\n", "wg0").ok());
    CHECK_FALSE(parse_uapi_get(peer + "endpoint=[::1:51820\nerrno=0\n\n", "wg0").ok());
    CHECK_FALSE(parse_uapi_get(peer + "allowed_ip=10.0.0.0/33\nerrno=0\n\n", "wg0").ok());
    CHECK_FALSE(parse_uapi_get(peer + "allowed_ip=banana\nerrno=0\n\n", "wg0").ok());
    std::string binary("hi\0\xff\n=\n", 7);
    auto bin = parse_uapi_get(binary, "wg0");
    REQUIRE_FALSE(bin.ok());
    CHECK(bin.error().find("'hi\\x00\\xff'") != std::string::npos); // escaped, not cut at the NUL
}

namespace {

// Builds a WG_CMD_GET_DEVICE reply the way the kernel does.
struct GenlReply {
    std::vector<char> buf = std::vector<char>(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh;
    GenlReply() {
        nlh = mnl_nlmsg_put_header(buf.data());
        nlh->nlmsg_type = 0x20; // the dynamic family id
        nlh->nlmsg_flags = NLM_F_MULTI;
        auto* g = static_cast<genlmsghdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(genlmsghdr)));
        g->cmd = WG_CMD_GET_DEVICE;
        g->version = WG_GENL_VERSION;
    }
    void key(uint16_t type, const char* hex) {
        auto bytes = hex_bytes(hex);
        mnl_attr_put(nlh, type, bytes.size(), bytes.data());
    }
    void allowed_ip(int family, const char* text, uint8_t cidr, int index) {
        nlattr* n = mnl_attr_nest_start(nlh, static_cast<uint16_t>(index));
        mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, static_cast<uint16_t>(family));
        uint8_t addr[16];
        inet_pton(family, text, addr);
        mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, family == AF_INET ? 4 : 16, addr);
        mnl_attr_put_u8(nlh, WGALLOWEDIP_A_CIDR_MASK, cidr);
        mnl_attr_nest_end(nlh, n);
    }
};

} // namespace

TEST_CASE("kernel genetlink device reply", "[wg]") {
    GenlReply r;
    mnl_attr_put_u32(r.nlh, WGDEVICE_A_IFINDEX, 9);
    mnl_attr_put_strz(r.nlh, WGDEVICE_A_IFNAME, "wg0");
    r.key(WGDEVICE_A_PRIVATE_KEY, kPeer2Hex); // sent to root; must be ignored
    r.key(WGDEVICE_A_PUBLIC_KEY, kDeviceHex);
    mnl_attr_put_u16(r.nlh, WGDEVICE_A_LISTEN_PORT, 51820);
    mnl_attr_put_u32(r.nlh, WGDEVICE_A_FWMARK, 0xca6c);
    nlattr* peers = mnl_attr_nest_start(r.nlh, WGDEVICE_A_PEERS);

    nlattr* p0 = mnl_attr_nest_start(r.nlh, 0);
    r.key(WGPEER_A_PUBLIC_KEY, kPeer1Hex);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(51820);
    inet_pton(AF_INET, "203.0.113.9", &sin.sin_addr);
    mnl_attr_put(r.nlh, WGPEER_A_ENDPOINT, sizeof sin, &sin);
    mnl_attr_put_u64(r.nlh, WGPEER_A_RX_BYTES, 1234);
    const int64_t handshake[2] = {1796000000, 5}; // struct __kernel_timespec
    mnl_attr_put(r.nlh, WGPEER_A_LAST_HANDSHAKE_TIME, sizeof handshake, handshake);
    nlattr* ips = mnl_attr_nest_start(r.nlh, WGPEER_A_ALLOWEDIPS);
    r.allowed_ip(AF_INET, "0.0.0.0", 0, 0);
    r.allowed_ip(AF_INET6, "::", 0, 1);
    mnl_attr_nest_end(r.nlh, ips);
    mnl_attr_nest_end(r.nlh, p0);

    nlattr* p1 = mnl_attr_nest_start(r.nlh, 1);
    r.key(WGPEER_A_PUBLIC_KEY, kPeer2Hex);
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(51821);
    inet_pton(AF_INET6, "2001:db8::9", &sin6.sin6_addr);
    mnl_attr_put(r.nlh, WGPEER_A_ENDPOINT, sizeof sin6, &sin6);
    ips = mnl_attr_nest_start(r.nlh, WGPEER_A_ALLOWEDIPS);
    r.allowed_ip(AF_INET, "10.7.0.2", 32, 0);
    mnl_attr_nest_end(r.nlh, ips);
    mnl_attr_nest_end(r.nlh, p1);

    mnl_attr_nest_end(r.nlh, peers);

    WgInterface wg;
    REQUIRE(parse_wg_genl_device(r.nlh, wg));
    CHECK(wg.name == "wg0");
    CHECK(wg.implementation == WgImplementation::kernel);
    CHECK(wg.public_key == kDeviceB64);
    CHECK(wg.listen_port == 51820);
    CHECK(wg.fwmark == 0xca6c);
    REQUIRE(wg.peers.size() == 2);
    CHECK(wg.peers[0].public_key == kPeer1B64);
    REQUIRE(wg.peers[0].endpoint);
    CHECK(wg.peers[0].endpoint->to_string() == "203.0.113.9:51820");
    REQUIRE(wg.peers[0].allowed_ips.size() == 2);
    CHECK(wg.peers[0].allowed_ips[1].address.family == Family::ipv6);
    CHECK(wg.peers[0].last_handshake_unix_s == 1796000000);
    CHECK_FALSE(wg.peers[1].last_handshake_unix_s); // not in the reply: not known
    CHECK(wg.peers[1].public_key == kPeer2B64);
    REQUIRE(wg.peers[1].endpoint);
    CHECK(wg.peers[1].endpoint->to_string() == "[2001:db8::9]:51821");
    REQUIRE(wg.peers[1].allowed_ips.size() == 1);
    CHECK(wg.peers[1].allowed_ips[0].to_string() == "10.7.0.2");
}

TEST_CASE("a peer's allowed IPs continued in the next dump message are merged", "[wg]") {
    WgInterface wg;
    for (int part = 0; part < 2; ++part) {
        GenlReply r;
        mnl_attr_put_strz(r.nlh, WGDEVICE_A_IFNAME, "wg0");
        nlattr* peers = mnl_attr_nest_start(r.nlh, WGDEVICE_A_PEERS);
        nlattr* p = mnl_attr_nest_start(r.nlh, 0);
        r.key(WGPEER_A_PUBLIC_KEY, kPeer1Hex);
        nlattr* ips = mnl_attr_nest_start(r.nlh, WGPEER_A_ALLOWEDIPS);
        r.allowed_ip(AF_INET, part == 0 ? "10.0.0.0" : "10.1.0.0", 16, 0);
        mnl_attr_nest_end(r.nlh, ips);
        mnl_attr_nest_end(r.nlh, p);
        mnl_attr_nest_end(r.nlh, peers);
        REQUIRE(parse_wg_genl_device(r.nlh, wg));
    }
    REQUIRE(wg.peers.size() == 1);
    REQUIRE(wg.peers[0].allowed_ips.size() == 2);
    CHECK(wg.peers[0].allowed_ips[1].to_string() == "10.1.0.0/16");
}

TEST_CASE("malformed genetlink reply is refused", "[wg]") {
    GenlReply r;
    uint8_t short_key[5] = {};
    mnl_attr_put(r.nlh, WGDEVICE_A_PUBLIC_KEY, sizeof short_key, short_key);
    WgInterface wg;
    CHECK_FALSE(parse_wg_genl_device(r.nlh, wg));

    GenlReply peerless_key;
    nlattr* peers = mnl_attr_nest_start(peerless_key.nlh, WGDEVICE_A_PEERS);
    nlattr* p = mnl_attr_nest_start(peerless_key.nlh, 0);
    mnl_attr_put_u16(peerless_key.nlh, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 25);
    mnl_attr_nest_end(peerless_key.nlh, p);
    mnl_attr_nest_end(peerless_key.nlh, peers);
    WgInterface wg2;
    CHECK_FALSE(parse_wg_genl_device(peerless_key.nlh, wg2));
}
