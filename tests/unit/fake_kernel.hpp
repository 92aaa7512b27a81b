#pragma once
// A kernel for flavour-choice tests: by default a stock distribution kernel (tracepoints, fexit,
// netfilter links, drop reasons); tests take things away.
#include <map>
#include <optional>
#include <set>
#include <string>

#include "loader/kernel_features.hpp"

struct FakeKernel : wgbpf::KernelFeatures {
    std::set<std::string> tracepoints{"fib_table_lookup", "fib6_table_lookup", "kfree_skb"};
    std::map<std::string, int> functions{{"fib4_rule_suppress", 3}, {"fib6_rule_suppress", 3}, {"fib_rules_lookup", 4}};
    std::map<std::string, int> module_functions{{"nft_do_chain", 2}}; // nf_tables is a module on stock kernels
    std::map<std::string, int> tracepoint_args{{"kfree_skb", 4}};
    std::optional<std::string> fexit_refusal;
    std::optional<std::string> netfilter_link_refusal;
    std::optional<std::string> kprobe_refusal;

    bool has_tracepoint(const std::string& n) const override { return tracepoints.count(n) > 0; }
    std::optional<int> function_arg_count(const std::string& n, const std::string& module = "") const override {
        const auto& table = module.empty() ? functions : module_functions;
        auto it = table.find(n);
        return it == table.end() ? std::nullopt : std::optional<int>(it->second);
    }
    std::optional<int> tracepoint_arg_count(const std::string& n) const override {
        auto it = tracepoint_args.find(n);
        return it == tracepoint_args.end() ? std::nullopt : std::optional<int>(it->second);
    }
    std::optional<std::string> fexit_refused() const override { return fexit_refusal; }
    std::optional<std::string> netfilter_link_refused() const override { return netfilter_link_refusal; }
    std::optional<std::string> kprobe_refused() const override { return kprobe_refusal; }
};
