#include <catch2/catch_test_macros.hpp>

#include "fake_kernel.hpp"
#include "probe/route_flavour.hpp"

using namespace wgbpf;

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
    CHECK(f.can_run.why_not.find("fib_table_lookup") != std::string::npos);
}

TEST_CASE("no IPv6 tracepoint: IPv4 only, noted") {
    FakeKernel k;
    k.tracepoints.erase("fib6_table_lookup");
    auto f = choose_route_flavour(k);
    CHECK(f.can_run);
    CHECK_FALSE(f.ipv6);
    CHECK_FALSE(f.notes.empty());
}
