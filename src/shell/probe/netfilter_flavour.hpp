#pragma once
// How the netfilter module runs on this kernel: exact chain runs from fentry/fexit on nft_do_chain
// where allowed; otherwise BPF netfilter links bracketing each base chain (6.4+); otherwise not at all.
#include <string>
#include <vector>

#include "loader/kernel_features.hpp"
#include "probe/can_run.hpp"

namespace wgbpf {

struct NetfilterFlavour {
    CanRun can_run;
    enum class Kind { exact, brackets } kind = Kind::brackets; // when it can run
    std::vector<std::string> notes;                            // why a better flavour was not used
    std::string describe() const;
};

NetfilterFlavour choose_netfilter_flavour(const KernelFeatures& kernel);

// Drops: kfree_skb with a reason (5.17+) or without.
struct DropFlavour {
    CanRun can_run;
    bool with_reason = false;
    std::string describe() const;
};

DropFlavour choose_drop_flavour(const KernelFeatures& kernel);

} // namespace wgbpf
