#include "event/wireguard_event.hpp"

namespace wgbpf {

std::string_view verdict_name(WgVerdict v) {
    switch (v) {
    case WgVerdict::ok: return "";
    case WgVerdict::no_peer: return "no_peer";
    case WgVerdict::no_endpoint: return "no_endpoint";
    case WgVerdict::src_not_allowed: return "src_not_allowed";
    case WgVerdict::bad_mac: return "bad_mac";
    case WgVerdict::ratelimited: return "ratelimited";
    case WgVerdict::cookie_sent: return "cookie_sent";
    case WgVerdict::rejected: return "rejected";
    case WgVerdict::unknown_index: return "unknown_index";
    case WgVerdict::unknown_key: return "unknown_key";
    case WgVerdict::invalid: return "invalid";
    case WgVerdict::no_session: return "no_session";
    case WgVerdict::flood: return "flood";
    case WgVerdict::timestamp_refused: return "timestamp_refused";
    case WgVerdict::gave_up: return "gave_up";
    case WgVerdict::peer_removed: return "peer_removed";
    case WgVerdict::device_down: return "device_down";
    }
    return "";
}

} // namespace wgbpf
