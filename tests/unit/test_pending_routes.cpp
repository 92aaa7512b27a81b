#include <catch2/catch_test_macros.hpp>

#include "timeline/pending_routes.hpp"

using namespace wgbpf;
using Fit = PendingRoutes::Fit;

namespace {

IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    return IpAddress::v4(uint32_t(a) | uint32_t(b) << 8 | uint32_t(c) << 16 | uint32_t(d) << 24);
}

RouteDecision decision(uint32_t netns, IpAddress dst, uint64_t t_ns, uint32_t tgid = 0) {
    RouteDecision d;
    d.netns = netns;
    d.dst = dst;
    d.t_ns = t_ns;
    d.tgid = tgid;
    return d;
}

Fit any(const RouteDecision&) { return Fit::yes; }

} // namespace

TEST_CASE("pending routes: a packet finds only the decisions for its namespace and destination") {
    PendingRoutes p;
    p.push(decision(1, v4(10, 0, 0, 1), 100));
    p.push(decision(2, v4(10, 0, 0, 2), 200));
    p.push(decision(1, v4(10, 0, 0, 2), 300));
    CHECK(p.size() == 3);
    CHECK_FALSE(p.take(1, v4(10, 0, 0, 9), any));
    CHECK_FALSE(p.take(3, v4(10, 0, 0, 2), any));
    auto got = p.take(1, v4(10, 0, 0, 2), any);
    REQUIRE(got);
    CHECK(got->t_ns == 300);
    CHECK(p.size() == 2);
    CHECK_FALSE(p.take(1, v4(10, 0, 0, 2), any)); // taken once only
}

TEST_CASE("pending routes: the oldest that says yes wins, else the oldest maybe, else none") {
    PendingRoutes p;
    for (uint32_t tgid : {7u, 8u, 9u}) p.push(decision(1, v4(10, 0, 0, 1), 100 * tgid, tgid));
    auto by_tgid = [](uint32_t want) {
        return [want](const RouteDecision& d) { return d.tgid == want ? Fit::yes : Fit::maybe; };
    };
    CHECK(p.take(1, v4(10, 0, 0, 1), by_tgid(9))->tgid == 9);
    CHECK(p.take(1, v4(10, 0, 0, 1), by_tgid(42))->tgid == 7); // nobody's: the oldest that fits
    CHECK_FALSE(p.take(1, v4(10, 0, 0, 1), [](const RouteDecision&) { return Fit::no; }));
    CHECK(p.size() == 1);
}

TEST_CASE("pending routes: oldest first, across destinations, with taken ones skipped") {
    PendingRoutes p;
    CHECK(p.oldest() == nullptr);
    p.push(decision(1, v4(10, 0, 0, 1), 100));
    p.push(decision(1, v4(10, 0, 0, 2), 200));
    p.push(decision(1, v4(10, 0, 0, 3), 300));
    REQUIRE(p.take(1, v4(10, 0, 0, 1), any));
    REQUIRE(p.oldest() != nullptr);
    CHECK(p.oldest()->t_ns == 200);
    CHECK(p.pop_oldest().t_ns == 200);
    CHECK(p.pop_oldest().t_ns == 300);
    CHECK(p.empty());
    CHECK(p.oldest() == nullptr);
    // the index forgot them too
    CHECK_FALSE(p.take(1, v4(10, 0, 0, 2), any));
    p.push(decision(1, v4(10, 0, 0, 2), 400));
    CHECK(p.take(1, v4(10, 0, 0, 2), any)->t_ns == 400);
}

TEST_CASE("pending routes: take_all takes what has expired, in order, and keeps the rest findable") {
    PendingRoutes p;
    for (uint64_t t = 1; t <= 6; ++t) p.push(decision(1, v4(10, 0, 0, uint8_t(t % 2)), t));
    auto expired = p.take_all([](const RouteDecision& d) { return d.t_ns % 3 != 0; });
    REQUIRE(expired.size() == 4);
    CHECK(expired[0].t_ns == 1);
    CHECK(expired[3].t_ns == 5);
    CHECK(p.size() == 2);
    CHECK(p.oldest()->t_ns == 3);
    CHECK(p.take(1, v4(10, 0, 0, 1), any)->t_ns == 3);
    CHECK(p.take(1, v4(10, 0, 0, 0), any)->t_ns == 6);
    CHECK(p.empty());
}
