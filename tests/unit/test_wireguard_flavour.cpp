#include <catch2/catch_test_macros.hpp>

#include "fake_kernel.hpp"
#include "probe/wireguard_flavour.hpp"

using namespace wgbpf;

namespace {
FakeKernel with_wireguard_module() {
    FakeKernel k;
    k.module_functions["wg_allowedips_lookup_dst"] = 2;
    k.module_functions["wg_allowedips_lookup_src"] = 2;
    k.module_functions["wg_cookie_validate_packet"] = 3;
    k.module_functions["wg_noise_handshake_consume_initiation"] = 2;
    k.module_functions["wg_noise_handshake_consume_response"] = 2;
    k.module_functions["wg_packet_receive"] = 2;
    k.module_functions["wg_index_hashtable_lookup"] = 4;
    k.module_functions["wg_pubkey_hashtable_lookup"] = 2;
    k.module_functions["decrypt_packet"] = 2;
    k.module_functions["wg_packet_purge_staged_packets"] = 1;
    return k;
}
} // namespace

TEST_CASE("kernel WireGuard loaded on a stock kernel: fexit on the allowed-IPs lookups") {
    FakeKernel k = with_wireguard_module();
    WireguardFlavour f = choose_wireguard_flavour(k);
    CHECK(f.kind == WireguardFlavour::Kind::fexit);
    CHECK(f.handshakes);
    CHECK(f.notes.empty());
    CHECK(f.decrypts);
    CHECK(f.purges);
    CHECK(f.describe() == "fexit wg_allowedips_lookup_dst/src, handshake verdicts, decryption failures, queue purges");
}

TEST_CASE("a module without wg_packet_purge_staged_packets: queue purges are not watched, said; the rest runs") {
    FakeKernel k = with_wireguard_module();
    k.module_functions.erase("wg_packet_purge_staged_packets");
    WireguardFlavour f = choose_wireguard_flavour(k);
    CHECK(f.kind == WireguardFlavour::Kind::fexit);
    CHECK_FALSE(f.purges);
    REQUIRE(f.notes.size() == 1);
    CHECK(f.notes[0].find("queued for a handshake and then dropped are not watched") != std::string::npos);
    CHECK(f.describe() == "fexit wg_allowedips_lookup_dst/src, handshake verdicts, decryption failures");
}

TEST_CASE("decrypt_packet missing from the module, or also in vmlinux: decryption failures are not watched, said") {
    FakeKernel k = with_wireguard_module();
    k.functions["decrypt_packet"] = 2; // a built-in function of that name: attaching by name would be ambiguous
    WireguardFlavour f = choose_wireguard_flavour(k);
    CHECK(f.kind == WireguardFlavour::Kind::fexit);
    CHECK_FALSE(f.decrypts);
    REQUIRE(f.notes.size() == 1);
    CHECK(f.notes[0].find("do not decrypt are not watched") != std::string::npos);
    FakeKernel old = with_wireguard_module();
    old.module_functions.erase("decrypt_packet");
    CHECK_FALSE(choose_wireguard_flavour(old).decrypts);
}

TEST_CASE("a wireguard module without the handshake functions: the lookups run, handshake verdicts are not watched, "
          "and a note says so") {
    FakeKernel k = with_wireguard_module();
    k.module_functions.erase("wg_cookie_validate_packet");
    WireguardFlavour f = choose_wireguard_flavour(k);
    CHECK(f.kind == WireguardFlavour::Kind::fexit);
    CHECK_FALSE(f.handshakes);
    REQUIRE(f.notes.size() == 1);
    CHECK(f.notes[0].find("handshake verdicts not watched") != std::string::npos);
    CHECK(f.describe() == "fexit wg_allowedips_lookup_dst/src, decryption failures, queue purges");
}

TEST_CASE("fexit refused: kprobe and kretprobe, with the reason fexit was not used") {
    FakeKernel k = with_wireguard_module();
    k.fexit_refusal = "fexit refused by this kernel (EPERM: Operation not permitted)";
    WireguardFlavour f = choose_wireguard_flavour(k);
    CHECK(f.kind == WireguardFlavour::Kind::kprobe);
    REQUIRE(f.notes.size() == 1);
    CHECK(f.notes[0].find("EPERM") != std::string::npos);
}

TEST_CASE("neither fexit nor kprobes (this machine's kind of kernel): not running, and why") {
    FakeKernel k = with_wireguard_module();
    k.fexit_refusal = "fexit refused";
    k.kprobe_refusal = "this kernel has no kprobes";
    WireguardFlavour f = choose_wireguard_flavour(k);
    CHECK_FALSE(f.can_run);
    CHECK(f.can_run.why_not.find("no kprobes") != std::string::npos);
    CHECK(f.can_run.why_not.find("fexit refused") != std::string::npos);
}

TEST_CASE("no wireguard module (user-space WireGuard only): not running, and how links are made instead") {
    FakeKernel k;
    WireguardFlavour f = choose_wireguard_flavour(k);
    CHECK_FALSE(f.can_run);
    CHECK(f.can_run.why_not.find("peer, order and length") != std::string::npos);
}

TEST_CASE("a wireguard module whose lookups take other arguments is not hooked") {
    FakeKernel k = with_wireguard_module();
    k.module_functions["wg_allowedips_lookup_src"] = 3;
    CHECK_FALSE(choose_wireguard_flavour(k).can_run);
}

TEST_CASE("stock kernel with --no-fexit: kprobes for WireGuard, the reason in the notes") {
    auto kernel = std::make_unique<FakeKernel>(with_wireguard_module());
    auto limited = without_fexit(std::move(kernel), "fentry/fexit not used (--no-fexit)");
    WireguardFlavour f = choose_wireguard_flavour(*limited);
    CHECK(f.kind == WireguardFlavour::Kind::kprobe);
    REQUIRE(f.notes.size() == 1);
    CHECK(f.notes[0].find("--no-fexit") != std::string::npos);
    CHECK(limited->function_arg_count("wg_allowedips_lookup_dst", "wireguard") == 2); // the rest is the kernel's
}
