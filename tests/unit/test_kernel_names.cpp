#include <catch2/catch_test_macros.hpp>

#include "loader/drop_reasons.hpp"
#include "loader/kernel_symbols.hpp"

using namespace wgbpf;

TEST_CASE("drop locations become symbol+offset, never addresses") {
    auto ks = KernelSymbols::parse("ffffffff81000000 T _text\n"
                                   "ffffffff81100000 t nft_do_chain\t[nf_tables]\n"
                                   "ffffffff81100400 T nft_do_chain_ipv4\n"
                                   "ffffffff81200000 D some_data\n"
                                   "garbage line\n"
                                   "\n");
    CHECK(ks.size() == 3);
    CHECK(ks.name(0xffffffff811003e8) == "nft_do_chain+0x3e8");
    CHECK(ks.name(0xffffffff81100400) == "nft_do_chain_ipv4+0x0");
    CHECK(ks.name(0x1000) == "unknown");
}

TEST_CASE("hidden kallsyms (not root) gives no names rather than wrong ones") {
    auto ks = KernelSymbols::parse("0000000000000000 T _text\n0000000000000000 t nft_do_chain\n");
    CHECK(ks.size() == 0);
    CHECK(ks.name(0xffffffff811003e8) == "unknown");
}

TEST_CASE("drop reasons are named from the running kernel's enum") {
    auto r = DropReasons::from({{12, "NETFILTER_DROP"}, {16, "IP_RPFILTER"}});
    CHECK(r.name(12) == "NETFILTER_DROP");
    CHECK(r.name(99) == "reason 99");
    CHECK(r.value("IP_RPFILTER") == 16u);
    CHECK_FALSE(r.value("NOPE"));
}

TEST_CASE("this machine's kernel names NETFILTER_DROP (BTF), when BTF is readable") {
    auto r = DropReasons::load();
    if (!r.value("NOT_SPECIFIED")) SKIP("no kernel BTF with enum skb_drop_reason here");
    CHECK(r.value("NETFILTER_DROP"));
}
