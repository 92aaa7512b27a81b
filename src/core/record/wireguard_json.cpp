// WireGuard interfaces <-> JSON: public keys, endpoints and allowed IPs (never a private key: WgInterface
// has none).
#include "snapshot_parse.hpp"
#include "record/snapshot_json.hpp"

namespace wgbpf {
namespace {

using nlohmann::json;
using record_detail::JsonIn;
using record_detail::prefix_text;

WgPeer peer(const JsonIn& j) {
    WgPeer p;
    p.public_key = j.at("public_key").string();
    if (auto e = j.maybe("endpoint"))
        p.endpoint = WgEndpoint{e->at("address").address(), e->at("port").unsigned_int<uint16_t>()};
    for (const JsonIn& a : j.at("allowed_ips").items()) p.allowed_ips.push_back(a.prefix());
    if (auto h = j.maybe("last_handshake_unix_s")) p.last_handshake_unix_s = h->signed_int<int64_t>();
    return p;
}

} // namespace

namespace record_detail {

std::vector<WgInterface> parse_wireguard(const JsonIn& j) {
    std::vector<WgInterface> out;
    for (const JsonIn& i : j.items()) {
        WgInterface wg;
        wg.name = i.at("name").string();
        const JsonIn& source = i.at("source");
        auto implementation = parse_enum<WgImplementation>(source.string());
        if (!implementation) source.fail("expected \"kernel\" or \"uapi\"");
        wg.implementation = *implementation;
        wg.public_key = i.at("public_key").string();
        wg.listen_port = i.at("listen_port").unsigned_int<uint16_t>();
        wg.fwmark = i.at("fwmark").unsigned_int<uint32_t>();
        for (const JsonIn& p : i.at("peers").items()) wg.peers.push_back(peer(p));
        if (auto n = i.maybe("netns")) wg.netns = n->unsigned_int<uint32_t>();
        if (auto n = i.maybe("socket_netns")) wg.socket_netns = n->unsigned_int<uint32_t>();
        out.push_back(std::move(wg));
    }
    return out;
}

} // namespace record_detail

json wireguard_to_json(const std::vector<WgInterface>& list) {
    json out = json::array();
    for (const WgInterface& wg : list) {
        json peers = json::array();
        for (const WgPeer& p : wg.peers) {
            json allowed = json::array();
            for (const IpPrefix& a : p.allowed_ips) allowed.push_back(prefix_text(a));
            json pj = {{"public_key", p.public_key}, {"allowed_ips", allowed}};
            if (p.endpoint) pj["endpoint"] = {{"address", p.endpoint->address.to_string()}, {"port", p.endpoint->port}};
            if (p.last_handshake_unix_s) pj["last_handshake_unix_s"] = *p.last_handshake_unix_s;
            peers.push_back(std::move(pj));
        }
        json w = {{"name", wg.name},
                  {"source", name_of(wg.implementation)},
                  {"public_key", wg.public_key},
                  {"listen_port", wg.listen_port},
                  {"fwmark", wg.fwmark},
                  {"peers", peers}};
        if (wg.netns) w["netns"] = wg.netns; // only when it lives in another namespace than the frame's
        if (wg.socket_netns) w["socket_netns"] = wg.socket_netns;
        out.push_back(std::move(w));
    }
    return out;
}

Result<std::vector<WgInterface>> wireguard_from_json(const json& j) {
    return record_detail::read_json<std::vector<WgInterface>>(j, "WireGuard interfaces",
                                                              record_detail::parse_wireguard);
}

} // namespace wgbpf
