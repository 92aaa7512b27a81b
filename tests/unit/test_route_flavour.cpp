#include <catch2/catch_test_macros.hpp>

#include <map>
#include <set>

#include "wgbpf/probe/route_flavour.hpp"

using namespace wgbpf;

namespace {

struct FakeKernel : KernelFeatures {
    std::set<std::string> tracepoints{"fib_table_lookup", "fib6_table_lookup"};
    std::map<std::string, int> functions{{"fib4_rule_suppress", 3}, {"fib6_rule_suppress", 3}, {"fib_rules_lookup", 4}};
    std::optional<std::string> fexit_refusal;

    bool has_tracepoint(const std::string& n) const override { return tracepoints.count(n) > 0; }
    std::optional<int> tracepoint_arg_count(const std::string&) const override { return 3; }
    std::optional<std::string> netfilter_link_refused() const override { return std::nullopt; }
    std::optional<int> function_arg_count(const std::string& n, const std::string& = "") const override {
        auto it = functions.find(n);
        return it == functions.end() ? std::nullopt : std::optional<int>(it->second);
    }
    std::optional<std::string> fexit_refused() const override { return fexit_refusal; }
};

} // namespace

TEST_CASE("a stock kernel gets exact rules from fexit") {
    FakeKernel k;
    auto f = choose_route_flavour(k);
    CHECK(f.can_run);
    CHECK(f.ipv6);
    CHECK(f.exact_rules);
    CHECK(f.suppress_arg_count == 3);
    CHECK(f.describe() == "tp_btf fib_table_lookup+fib6_table_lookup, fexit rules (exact)");
}

TEST_CASE("kernels before 5.16 have the two-argument suppress functions") {
    FakeKernel k;
    k.functions["fib4_rule_suppress"] = 2;
    k.functions["fib6_rule_suppress"] = 2;
    auto f = choose_route_flavour(k);
    CHECK(f.exact_rules);
    CHECK(f.suppress_arg_count == 2);
    CHECK(f.ipv6_suppress);
}

TEST_CASE("a kernel that refuses fexit infers rules and says why") {
    FakeKernel k;
    k.fexit_refusal = "fexit refused by this kernel (EPERM: Operation not permitted)";
    auto f = choose_route_flavour(k);
    CHECK(f.can_run);
    CHECK_FALSE(f.exact_rules);
    REQUIRE(f.notes.size() == 1);
    CHECK(f.notes[0].find("EPERM") != std::string::npos);
    CHECK(f.describe() == "tp_btf fib_table_lookup+fib6_table_lookup, rules inferred");
}

TEST_CASE("no fib tracepoint: the module cannot run, with the reason") {
    FakeKernel k;
    k.tracepoints.clear();
    auto f = choose_route_flavour(k);
    CHECK_FALSE(f.can_run);
    CHECK(f.why_not.find("fib_table_lookup") != std::string::npos);
}

TEST_CASE("no IPv6 tracepoint: IPv4 only, noted") {
    FakeKernel k;
    k.tracepoints.erase("fib6_table_lookup");
    auto f = choose_route_flavour(k);
    CHECK(f.can_run);
    CHECK_FALSE(f.ipv6);
    CHECK_FALSE(f.notes.empty());
}
