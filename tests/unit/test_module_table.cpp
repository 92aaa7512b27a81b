// The module table: one row per module, in start order, each telling whether it can run on a kernel and why
// not, with the reason its flavour gives.
#include <catch2/catch_test_macros.hpp>
#include <set>

#include "fake_kernel.hpp"
#include "probe/module_table.hpp"

using namespace wgbpf;

namespace {

const ModuleRow& row(ModuleId id) {
    for (const ModuleRow& r : module_table())
        if (r.id == id) return r;
    FAIL("no row for " << name_of(id));
    throw; // not reached
}

} // namespace

TEST_CASE("module table: a row for every module, route first") {
    std::set<ModuleId> seen;
    for (const ModuleRow& r : module_table()) {
        CHECK(seen.insert(r.id).second);
        CHECK(r.can_run);
        CHECK(r.start);
    }
    CHECK(seen.size() == kModules.size());
    CHECK(module_table().front().id == ModuleId::route);
}

TEST_CASE("module table: what each module needs of the kernel, with the reason when it is missing") {
    FakeKernel k;
    k.tracepoints.insert({"netif_receive_skb", "net_dev_start_xmit"});
    k.module_functions.insert({{"wg_allowedips_lookup_dst", 2}, {"wg_allowedips_lookup_src", 2}});
    for (ModuleId m : kModules) {
        INFO(name_of(m));
        CHECK(row(m).can_run(k));
    }

    k.tracepoints.erase("fib_table_lookup");
    CHECK(row(ModuleId::route).can_run(k).why_not.find("fib_table_lookup") != std::string::npos);
    k.tracepoints.erase("net_dev_start_xmit");
    CHECK(row(ModuleId::device).can_run(k).why_not.find("net_dev_start_xmit") != std::string::npos);
    k.tracepoint_args.clear();
    CHECK(row(ModuleId::drop).can_run(k).why_not == "no BTF tracepoint kfree_skb");
    k.module_functions.erase("wg_allowedips_lookup_src");
    CHECK(row(ModuleId::wireguard).can_run(k).why_not.find("no kernel WireGuard") != std::string::npos);
    k.fexit_refusal = "fexit refused (test)";
    k.netfilter_link_refusal = "no netfilter links (test)";
    CHECK(row(ModuleId::netfilter).can_run(k).why_not.find("no netfilter links (test)") != std::string::npos);
}

TEST_CASE("module table: a reason is never empty") {
    CHECK_FALSE(CanRun::no(""));
    CHECK(CanRun::no("").why_not == "not said why");
    CHECK(CanRun{});
}
