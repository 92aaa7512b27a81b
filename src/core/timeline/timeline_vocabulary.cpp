#include "timeline/timeline_vocabulary.hpp"

namespace wgbpf {

std::string_view name_of(Outcome o) {
    switch (o) {
    case Outcome::unknown: return "unknown";
    case Outcome::sent: return "sent";
    case Outcome::delivered: return "delivered";
    case Outcome::forwarded: return "forwarded";
    case Outcome::dropped: return "dropped";
    case Outcome::encapsulated: return "encapsulated";
    case Outcome::decapsulated: return "decapsulated";
    case Outcome::not_sent: return "not_sent";
    case Outcome::reassembled: return "reassembled";
    }
    return {};
}

std::string_view name_of(DeviceDirection d) {
    switch (d) {
    case DeviceDirection::ingress: return "ingress";
    case DeviceDirection::egress: return "egress";
    }
    return {};
}

std::string_view name_of(WgAction a) {
    switch (a) {
    case WgAction::encrypt: return "encrypt";
    case WgAction::decrypt: return "decrypt";
    case WgAction::handshake_initiation: return "handshake_initiation";
    case WgAction::handshake_response: return "handshake_response";
    case WgAction::cookie_reply: return "cookie_reply";
    case WgAction::keepalive: return "keepalive";
    }
    return {};
}

bool is_handshake(WgAction a) { return a == WgAction::handshake_initiation || a == WgAction::handshake_response; }

std::string_view name_of(WgDirection d) {
    switch (d) {
    case WgDirection::out: return "out";
    case WgDirection::in: return "in";
    }
    return {};
}

std::string_view name_of(WgLinkedBy l) {
    switch (l) {
    case WgLinkedBy::none: return "";
    case WgLinkedBy::skb: return "skb";
    case WgLinkedBy::peer_order_length: return "peer_order_length";
    }
    return {};
}

std::string_view name_of(RpFilterMode m) {
    switch (m) {
    case RpFilterMode::unknown: return "unknown";
    case RpFilterMode::off: return "off";
    case RpFilterMode::strict: return "strict";
    case RpFilterMode::loose: return "loose";
    }
    return {};
}

std::string_view name_of(RpFilterResult r) {
    switch (r) {
    case RpFilterResult::unknown: return "unknown";
    case RpFilterResult::pass: return "pass";
    case RpFilterResult::fail: return "fail";
    }
    return {};
}

} // namespace wgbpf
