#include <catch2/catch_test_macros.hpp>

#include <sstream>

#include "pcapng/pcapng_writer.hpp"
#include "../support/pcapng_reader.hpp"

using namespace wgbpf;
using namespace wgbpf::test;

namespace {

std::vector<uint8_t> bytes(std::initializer_list<uint8_t> l) { return std::vector<uint8_t>(l); }

PacketTimeline crossing_two_devices() {
    PacketTimeline t;
    t.id = 7;
    t.netns = 4026532247;
    t.pkt.is_ip = true;
    t.pkt.family = Family::ipv4;
    t.pkt.proto = 1;
    t.pkt.len = 84;
    t.outcome = Outcome::sent;
    t.steps.push_back(DeviceStep{1'000, DeviceDirection::ingress, "wg0", bytes({0x45, 0, 0, 84, 1}), 84});
    t.steps.push_back(DeviceStep{2'000, DeviceDirection::egress, "c0", bytes({0x45, 0, 0, 84, 2, 3, 4, 5}), 84});
    return t;
}

} // namespace

TEST_CASE("pcapng: a section, an interface per device, a packet per crossing with bytes, its timeline as comment") {
    std::ostringstream out;
    PcapngSection section{"Linux 6.1.0-13-amd64", "wgbpf test", "wgbpf watch -i wg0 --pcapng x"};
    PcapngWriter w(out, section, TextStyle{true, 1'700'000'000'000'000'000}, 128,
                   [](uint32_t) { return std::string("client"); });
    PacketTimeline t = crossing_two_devices();
    w.timeline(t);
    PacketTimeline no_bytes = t;
    no_bytes.id = 8;
    for (TimelineStep& s : no_bytes.steps) std::get<DeviceStep>(s).bytes.clear();
    w.timeline(no_bytes);
    w.timeline(t); // a second packet on the same devices: no new interfaces
    w.finish(3, 5, 9'000);
    REQUIRE(w.flush().state == WriteState::ok);
    CHECK(w.packets() == 4);
    CHECK(w.interfaces() == 2);
    CHECK(w.timelines_without_bytes() == 1);

    std::vector<PcapngBlock> blocks = pcapng_blocks(out.str());
    // SHB, IDB wg0, EPB, IDB c0, EPB, EPB, EPB, ISB x2
    REQUIRE(blocks.size() == 9);
    CHECK(blocks[0].type == 0x0A0D0D0A);
    CHECK(pcapng_at<uint32_t>(blocks[0].body, 0) == 0x1A2B3C4D);
    CHECK(pcapng_at<uint16_t>(blocks[0].body, 4) == 1);
    auto shb = pcapng_options(blocks[0].body, 16);
    CHECK(shb.find(3)->second == "Linux 6.1.0-13-amd64");
    CHECK(shb.find(4)->second == "wgbpf test");
    CHECK(shb.find(1)->second == "wgbpf watch -i wg0 --pcapng x");

    CHECK(blocks[1].type == 1);
    CHECK(pcapng_at<uint16_t>(blocks[1].body, 0) == kPcapngLinktypeRaw);
    CHECK(pcapng_at<uint32_t>(blocks[1].body, 4) == 128);
    auto idb = pcapng_options(blocks[1].body, 8);
    CHECK(idb.find(2)->second == "wg0");
    CHECK(idb.find(3)->second == "wg0 in netns client (4026532247)");
    CHECK(idb.find(9)->second == std::string(1, '\x09')); // nanoseconds

    const PcapngBlock& first = blocks[2];
    CHECK(first.type == 6);
    CHECK(pcapng_at<uint32_t>(first.body, 0) == 0); // wg0's interface
    uint64_t ts = uint64_t(pcapng_at<uint32_t>(first.body, 4)) << 32 | pcapng_at<uint32_t>(first.body, 8);
    CHECK(ts == 1'700'000'000'000'001'000);
    CHECK(pcapng_at<uint32_t>(first.body, 12) == 5);  // captured
    CHECK(pcapng_at<uint32_t>(first.body, 16) == 84); // on the wire
    CHECK(first.body.substr(20, 5) == std::string("\x45\x00\x00\x54\x01", 5));
    auto epb = pcapng_options(first.body, 20 + 8);
    std::string comment = epb.find(1)->second;
    CHECK(comment.find("#7 icmp") == 0);
    CHECK(comment.find("dev      ingress wg0") != std::string::npos);
    CHECK(comment.find('\x1b') == std::string::npos);        // never colour
    CHECK(pcapng_at<uint32_t>(epb.find(2)->second, 0) == 1); // inbound
    CHECK(pcapng_at<uint64_t>(epb.find(5)->second, 0) == 7);

    PcapngPacket read = pcapng_packet(first); // as the end-to-end tests read them
    CHECK(read.packet_id == 7);
    CHECK(read.flags == 1);
    CHECK(read.wire_len == 84);
    CHECK(read.data.size() == 5);
    CHECK(read.comment == comment);

    CHECK(blocks[3].type == 1);
    CHECK(pcapng_options(blocks[3].body, 8).find(2)->second == "c0");
    CHECK(blocks[4].type == 6);
    CHECK(pcapng_at<uint32_t>(blocks[4].body, 0) == 1);
    CHECK(pcapng_at<uint32_t>(blocks[4].body, 12) == 8);
    auto out_opts = pcapng_options(blocks[4].body, 20 + 8);
    CHECK(pcapng_at<uint32_t>(out_opts.find(2)->second, 0) == 2); // outbound
    CHECK(pcapng_at<uint64_t>(out_opts.find(5)->second, 0) == 7); // the same packet on both devices
    CHECK(out_opts.find(1)->second == comment);

    CHECK(blocks[7].type == 5);
    CHECK(blocks[8].type == 5);
    auto isb = pcapng_options(blocks[7].body, 12);
    CHECK(isb.find(1)->second.find("lost 3 device records") != std::string::npos);
    CHECK(isb.find(1)->second.find("5 other events") != std::string::npos);
    CHECK(isb.find(4) == isb.end()); // no drop count is claimed for an interface
}

TEST_CASE("pcapng: names from the kernel are made safe, and nothing is written for losses without interfaces") {
    std::ostringstream out;
    PcapngWriter w(out, PcapngSection{}, TextStyle{}, 64, {});
    PacketTimeline t = crossing_two_devices();
    std::get<DeviceStep>(t.steps[0]).dev = "wg\x1b[31m0\xff\xc3\xa9"; // an escape, a stray byte, then é
    t.steps.pop_back();
    w.timeline(t);
    std::vector<PcapngBlock> blocks = pcapng_blocks(out.str());
    REQUIRE(blocks.size() == 3);
    auto idb = pcapng_options(blocks[1].body, 8);
    CHECK(idb.find(2)->second.find('\x1b') == std::string::npos);
    CHECK(idb.find(2)->second.find("\\xff\xc3\xa9") != std::string::npos); // pcapng strings are UTF-8
    CHECK(idb.find(3)->second == idb.find(2)->second + " in netns 4026532247");

    std::ostringstream empty;
    PcapngWriter none(empty, PcapngSection{}, TextStyle{}, 64, {});
    none.finish(10, 0, 1);
    CHECK(pcapng_blocks(empty.str()).size() == 1); // the section header alone: no interface to hang a loss on
}
