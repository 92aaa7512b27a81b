#pragma once
// How the netfilter module runs on this kernel: exact chain runs from fentry/fexit on nft_do_chain
// where allowed; otherwise BPF netfilter links bracketing each base chain (6.4+); otherwise not at all.
#include <string>
#include <vector>

#include "loader/kernel_features.hpp"

namespace wgbpf {

struct NetfilterFlavour {
    enum class Kind { none, exact, brackets } kind = Kind::none;
    std::string why_not;               // when none
    std::vector<std::string> notes;    // why a better flavour was not used
    std::string describe() const;
};

NetfilterFlavour choose_netfilter_flavour(const KernelFeatures& kernel);

// Drops: kfree_skb with a reason (5.17+) or without.
struct DropFlavour {
    bool can_run = false;
    bool with_reason = false;
    std::string why_not;
    std::string describe() const;
};

DropFlavour choose_drop_flavour(const KernelFeatures& kernel);

} // namespace wgbpf
