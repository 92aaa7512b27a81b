#include <catch2/catch_test_macros.hpp>

#include "fake_kernel.hpp"
#include "probe/netfilter_flavour.hpp"

using namespace wgbpf;

TEST_CASE("stock kernel: exact chains from nft_do_chain in the nf_tables module") {
    FakeKernel k;
    auto f = choose_netfilter_flavour(k);
    CHECK(f.kind == NetfilterFlavour::Kind::exact);
    CHECK(f.describe() == "fentry/fexit nft_do_chain (exact)");
}

TEST_CASE("nf_tables built in: nft_do_chain found in vmlinux") {
    FakeKernel k;
    k.module_functions.clear();
    k.functions["nft_do_chain"] = 2;
    CHECK(choose_netfilter_flavour(k).kind == NetfilterFlavour::Kind::exact);
}

TEST_CASE("fexit refused (this machine): brackets from netfilter links, and why") {
    FakeKernel k;
    k.fexit_refusal = "fexit refused by this kernel (EPERM: Operation not permitted)";
    auto f = choose_netfilter_flavour(k);
    CHECK(f.kind == NetfilterFlavour::Kind::brackets);
    REQUIRE(f.notes.size() == 1);
    CHECK(f.notes[0].find("EPERM") != std::string::npos);
}

TEST_CASE("6.1: no netfilter links, fexit allowed: exact") {
    FakeKernel k;
    k.netfilter_link_refusal = "BPF netfilter links are not supported by this kernel (Linux 6.4+)";
    CHECK(choose_netfilter_flavour(k).kind == NetfilterFlavour::Kind::exact);
}

TEST_CASE("neither fexit nor netfilter links: the module cannot run, and says why") {
    FakeKernel k;
    k.fexit_refusal = "fexit refused";
    k.netfilter_link_refusal = "BPF netfilter links are not supported by this kernel (Linux 6.4+)";
    auto f = choose_netfilter_flavour(k);
    CHECK_FALSE(f.can_run);
    CHECK(f.can_run.why_not.find("netfilter links") != std::string::npos);
    CHECK(f.can_run.why_not.find("fexit refused") != std::string::npos);
}

TEST_CASE("drops: the reason argument exists since 5.17") {
    FakeKernel k;
    auto with = choose_drop_flavour(k);
    CHECK(with.can_run);
    CHECK(with.with_reason);
    k.tracepoint_args["kfree_skb"] = 2;
    auto without = choose_drop_flavour(k);
    CHECK(without.can_run);
    CHECK_FALSE(without.with_reason);
    k.tracepoint_args.clear();
    CHECK_FALSE(choose_drop_flavour(k).can_run);
}
