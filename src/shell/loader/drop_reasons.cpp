#include "loader/drop_reasons.hpp"

#include <bpf/btf.h>

#include "loader/libbpf_raii.hpp"

namespace wgbpf {

DropReasons DropReasons::load() {
    DropReasons d;
    BtfPtr vmlinux(btf__load_vmlinux_btf());
    if (!vmlinux) return d;
    int id = btf__find_by_name_kind(vmlinux.get(), "skb_drop_reason", BTF_KIND_ENUM);
    if (id <= 0) return d; // before 5.17: no reasons
    const btf_type* t = btf__type_by_id(vmlinux.get(), id);
    const struct btf_enum* e = btf_enum(t);
    const std::string prefix = "SKB_DROP_REASON_";
    for (int i = 0; i < btf_vlen(t); ++i, ++e) {
        std::string name = btf__name_by_offset(vmlinux.get(), e->name_off);
        if (name.starts_with(prefix)) name = name.substr(prefix.size());
        d.names_[static_cast<uint32_t>(e->val)] = name;
    }
    return d;
}

std::string DropReasons::name(uint32_t reason) const {
    auto it = names_.find(reason);
    return it == names_.end() ? "reason " + std::to_string(reason) : it->second;
}

std::optional<uint32_t> DropReasons::value(const std::string& name) const {
    for (const auto& [v, n] : names_)
        if (n == name) return v;
    return std::nullopt;
}

} // namespace wgbpf
