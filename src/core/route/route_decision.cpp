#include "route/route_decision.hpp"

namespace wgbpf {

std::string_view name_of(LookupResult r) {
    switch (r) {
    case LookupResult::none: return "";
    case LookupResult::hit: return "hit";
    case LookupResult::miss: return "miss";
    case LookupResult::suppressed: return "suppressed";
    case LookupResult::unreachable: return "unreachable";
    case LookupResult::prohibit: return "prohibit";
    case LookupResult::blackhole: return "blackhole";
    case LookupResult::throw_: return "throw";
    case LookupResult::error: return "error";
    case LookupResult::no_route: return "no route";
    }
    return {};
}

} // namespace wgbpf
