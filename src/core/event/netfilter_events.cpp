#include "event/netfilter_events.hpp"

namespace wgbpf {

std::string_view hook_name(NfHook h) {
    switch (h) {
    case NfHook::prerouting: return "prerouting";
    case NfHook::input: return "input";
    case NfHook::forward: return "forward";
    case NfHook::output: return "output";
    case NfHook::postrouting: return "postrouting";
    case NfHook::ingress: return "ingress";
    }
    return "unknown";
}

std::string_view ct_state_name(uint8_t ctinfo) {
    // enum ip_conntrack_info: IP_CT_IS_REPLY (3) is added to the original-direction states.
    switch (ctinfo) {
    case 0: return "established";
    case 1: return "related";
    case 2: return "new";
    case 3: return "established reply";
    case 4: return "related reply";
    case 7: return "untracked";
    case kCtNone: return "none";
    }
    return "unknown";
}

std::string_view nf_verdict_name(uint32_t verdict) {
    // The low byte is the verdict; the upper 16 bits carry an errno (drop) or a queue number (queue).
    switch (verdict & 0xff) {
    case 0: return "drop";
    case 1: return "accept";
    case 2: return (verdict >> 16) == 1 /* EPERM */ ? "drop" : "stolen"; // 6.7+: nft frees the skb itself
    case 3: return "queue";
    case 4: return "repeat";
    case 5: return "stop";
    }
    return "unknown";
}

} // namespace wgbpf
