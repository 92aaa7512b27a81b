#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <cstring>
#include <vector>

#include "wgbpf/abi/events.h"
#include "timeline/event_pipeline.hpp"

using namespace wgbpf;

namespace {

// A device record as the kernel would send it: an ICMP echo request of this host leaving on ifindex 2.
std::vector<std::byte> egress_record(uint64_t id, uint64_t t_ns) {
    wgbpf_device r{};
    r.hdr = {WGBPF_EV_DEVICE, 1, sizeof(r), t_ns, 0, 4026532000u, 42, 0};
    r.pkt.id = id;
    r.pkt.family = WGBPF_FAMILY_IPV4;
    r.pkt.proto = 1;
    r.pkt.len = 84;
    r.pkt.dport = 8 << 8;
    r.pkt.ip_id = static_cast<uint16_t>(id);
    r.pkt.l3_len = 20;
    r.pkt.oif = 2;
    const uint8_t src[4] = {10, 0, 0, 1}, dst[4] = {198, 51, 100, 9};
    std::memcpy(r.pkt.src, src, 4);
    std::memcpy(r.pkt.dst, dst, 4);
    r.ifindex = 2;
    r.direction = WGBPF_DEV_EGRESS;
    std::vector<std::byte> b(sizeof r);
    std::memcpy(b.data(), &r, sizeof r);
    return b;
}

bool has_gap(const PacketTimeline& t, const std::string& part) {
    return std::any_of(t.gaps.begin(), t.gaps.end(),
                       [&](const std::string& g) { return g.find(part) != std::string::npos; });
}

} // namespace

TEST_CASE("timelines that completed before the loss counters were read still get the loss's gap") {
    std::vector<PacketTimeline> out;
    EventPipeline pipeline(PipelineSources{[](uint32_t) -> const NetnsConfig* { return nullptr; }, {}, {}, {}, {}},
                           PipelineSinks{{}, {}, {}, [&](const PacketTimeline& t) { out.push_back(t); }});
    pipeline.feed(egress_record(1, 1'000)); // completes at once: sent
    CHECK(out.empty());                     // held until the caller has read the loss counters
    pipeline.lost(ModuleId::route, 7);      // read after the poll that completed it
    pipeline.flush(2'000);
    REQUIRE(out.size() == 1);
    CHECK(out[0].outcome == Outcome::sent);
    CHECK(has_gap(out[0], "7 route events lost while it was in flight"));

    // The next interval had no loss: a timeline completed in it goes out clean at the next flush.
    pipeline.feed(egress_record(2, 300'000'000));
    pipeline.flush(300'001'000);
    REQUIRE(out.size() == 2);
    CHECK_FALSE(has_gap(out[1], "events lost"));
    CHECK(pipeline.lone_routes() == 0);
}
