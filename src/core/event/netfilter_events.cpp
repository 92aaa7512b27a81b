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

std::string_view name_of(NfVerdict v) {
    switch (v) {
    case NfVerdict::unknown: return "unknown";
    case NfVerdict::drop: return "drop";
    case NfVerdict::accept: return "accept";
    case NfVerdict::stolen: return "stolen";
    case NfVerdict::queue: return "queue";
    case NfVerdict::repeat: return "repeat";
    case NfVerdict::stop: return "stop";
    }
    return {};
}

NfVerdict nf_verdict_of(uint32_t verdict) {
    // The low byte is the verdict; the upper 16 bits carry an errno (drop) or a queue number (queue).
    switch (verdict & 0xff) {
    case 0: return NfVerdict::drop;
    case 1: return NfVerdict::accept;
    case 2:
        return (verdict >> 16) == 1 /* EPERM */ ? NfVerdict::drop : NfVerdict::stolen; // 6.7+: nft frees the skb itself
    case 3: return NfVerdict::queue;
    case 4: return NfVerdict::repeat;
    case 5: return NfVerdict::stop;
    }
    return NfVerdict::unknown;
}

} // namespace wgbpf
