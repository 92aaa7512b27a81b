#pragma once
// Whether a probe module (or a part of it) can run on this kernel, and when it cannot, the kernel's reason
// as the user will read it. One type for every module's flavour, instead of a flag, a "none" kind or an
// empty string per module.
#include <string>
#include <utility>

namespace wgbpf {

struct CanRun {
    std::string why_not; // "" when it can

    explicit operator bool() const { return why_not.empty(); }
    static CanRun no(std::string why) { return CanRun{why.empty() ? std::string("not said why") : std::move(why)}; }
};

} // namespace wgbpf
