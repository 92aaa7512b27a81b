#pragma once
// Names of the running kernel's drop reasons (enum skb_drop_reason from its BTF: the values move
// between versions, so they are never hard-coded).
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace wgbpf {

class DropReasons {
public:
    static DropReasons load(); // from /sys/kernel/btf/vmlinux
    static DropReasons from(std::map<uint32_t, std::string> names) {
        DropReasons d;
        d.names_ = std::move(names);
        return d;
    }
    std::string name(uint32_t reason) const; // "NETFILTER_DROP", or "reason N" when unknown
    std::optional<uint32_t> value(const std::string& name) const;

private:
    std::map<uint32_t, std::string> names_;
};

} // namespace wgbpf
