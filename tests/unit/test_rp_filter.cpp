#include <catch2/catch_test_macros.hpp>

#include "timeline_fixtures.hpp"
#include "timeline/rp_filter.hpp"

using namespace wgbpf;
using namespace wgbpf::test;

TEST_CASE("rp_filter strict, src_valid_mark=1: the restored mark finds c0, pass (the seed's reply)") {
    NetnsConfig cfg = client_config(true);
    RpFilterStep s = explain_rp_filter(outer_reverse_route(7, 1), {"c0", kWgMark}, &cfg);
    CHECK(s.mode == RpFilterMode::strict);
    CHECK(s.result == RpFilterResult::pass);
    CHECK(s.iif == "c0");
    CHECK(s.reverse_oif == "c0");
    CHECK(s.mark == kWgMark);
    CHECK(s.src_valid_mark);
    CHECK(s.t_ns == 7);
    CHECK(s.reverse.direction == RouteDirection::reverse);
    CHECK(s.explanation == "reverse route to 203.0.113.123 via c0 = iif c0 (mark 0xca6c used: src_valid_mark=1)");
}

TEST_CASE("rp_filter strict, src_valid_mark=0: the mark is ignored, the reverse route is wg0, fail") {
    NetnsConfig cfg = client_config(false);
    RpFilterStep s = explain_rp_filter(outer_reverse_route(7, 1, false), {"c0", kWgMark}, &cfg);
    CHECK(s.mode == RpFilterMode::strict);
    CHECK(s.result == RpFilterResult::fail);
    CHECK(s.reverse_oif == "wg0");
    CHECK(s.mark == 0);
    CHECK_FALSE(s.src_valid_mark);
    CHECK(s.explanation ==
          "reverse route to 203.0.113.123 goes via wg0, not c0 where the packet came in: mark 0xca6c was not used "
          "(src_valid_mark=0)");
}

TEST_CASE("rp_filter: mode is the larger of all and the interface, src_valid_mark either") {
    NetnsConfig cfg = client_config(false);
    cfg.ipv4_conf["all"].rp_filter = 0;
    cfg.ipv4_conf["c0"] = Ipv4Conf{2, 1};
    // Loose: any route back will do.
    RpFilterStep loose = explain_rp_filter(outer_reverse_route(7, 1), {"c0", kWgMark}, &cfg);
    CHECK(loose.mode == RpFilterMode::loose);
    CHECK(loose.result == RpFilterResult::pass);
    CHECK(loose.src_valid_mark);
    CHECK(loose.explanation ==
          "a route back to 203.0.113.123 exists (via c0): loose mode asks no more (mark 0xca6c used: "
          "src_valid_mark=1)");
    // Loose passes even through the "wrong" device.
    CHECK(explain_rp_filter(outer_reverse_route(7, 1, false), {"c0", kWgMark}, &cfg).result == RpFilterResult::pass);

    // Off: the lookup happened (custom rules) but nothing is enforced.
    cfg.ipv4_conf["c0"].rp_filter = 0;
    RpFilterStep off = explain_rp_filter(outer_reverse_route(7, 1, false), {"c0", kWgMark}, &cfg);
    CHECK(off.mode == RpFilterMode::off);
    CHECK(off.result == RpFilterResult::pass);
    CHECK(off.explanation == "reverse route to 203.0.113.123 via wg0 is looked up (custom ip rules) but not enforced");
}

TEST_CASE("rp_filter: strict mismatch with the mark used says loose mode would accept it") {
    NetnsConfig cfg = client_config(true);
    RpFilterStep s = explain_rp_filter(outer_reverse_route(7, 1), {"wg0", kWgMark}, &cfg);
    CHECK(s.result == RpFilterResult::fail);
    CHECK(s.explanation == "reverse route to 203.0.113.123 goes via c0, not wg0 where the packet came in (mark 0xca6c "
                           "used: src_valid_mark=1); loose mode (rp_filter=2) would accept it");
}

TEST_CASE("rp_filter: no route back, a local source, an unknown iif, no sysctls") {
    NetnsConfig cfg = client_config(true);
    RouteDecision none = outer_reverse_route(7, 1);
    none.result = LookupResult::unreachable;
    none.result_oif.clear();
    RpFilterStep s = explain_rp_filter(none, {"c0", kWgMark}, &cfg);
    CHECK(s.result == RpFilterResult::fail);
    CHECK(s.explanation == "no route back to 203.0.113.123 (unreachable) (mark 0xca6c used: src_valid_mark=1)");

    RouteDecision local = outer_reverse_route(7, 1);
    local.route_type = RouteType::local;
    CHECK(explain_rp_filter(local, {"c0", 0}, &cfg).result == RpFilterResult::fail);
    CHECK(explain_rp_filter(local, {"c0", 0}, &cfg).explanation.find("is a local address") != std::string::npos);

    CHECK(explain_rp_filter(outer_reverse_route(7, 1), {"", kWgMark}, &cfg).result == RpFilterResult::unknown);

    RpFilterStep unknown = explain_rp_filter(outer_reverse_route(7, 1), {"c0", kWgMark}, nullptr);
    CHECK(unknown.mode == RpFilterMode::unknown);
    CHECK(unknown.result == RpFilterResult::unknown);
    CHECK(unknown.src_valid_mark); // the lookup carried the mark: the kernel used it
    CHECK(
        unknown.explanation ==
        "no sysctl snapshot: reverse route to 203.0.113.123 via c0, packet came in on c0 (mark 0xca6c used: src_valid_mark=1)");
}

TEST_CASE("rp_filter: an unmarked packet is explained without marks") {
    NetnsConfig cfg = client_config(true);
    RpFilterStep s = explain_rp_filter(inner_reverse_route(7, 1), {"wg0", 0}, &cfg);
    CHECK(s.result == RpFilterResult::pass);
    CHECK(s.explanation == "reverse route to 198.51.100.9 via wg0 = iif wg0");
}
