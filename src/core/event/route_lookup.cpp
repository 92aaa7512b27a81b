#include "event/route_lookup.hpp"

namespace wgbpf {

std::string_view direction_name(RouteDirection d) {
    switch (d) {
    case RouteDirection::output: return "output";
    case RouteDirection::input: return "input";
    case RouteDirection::reverse: return "reverse";
    }
    return "output";
}

} // namespace wgbpf
