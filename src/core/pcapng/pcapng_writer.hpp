#pragma once
// `--pcapng FILE`: the watched packets' bytes for Wireshark and tshark (pcapng, draft-ietf-opsawg-pcapng).
// One section; one interface per device a packet was captured on (its name, and its namespace in the
// description), link type raw IP; one packet per device crossing that carries bytes (`--snaplen`), with the
// packet's whole timeline as its comment, the timeline's number as its packet id (the same on every device the
// packet crossed) and its direction as its flags. libpcap reads pcapng but cannot write it, and Debian has no
// maintained writer library: the few blocks needed are written here (docs/pcapng.md).
#include <cstdint>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "render/output_writer.hpp"
#include "render/route_render.hpp"
#include "timeline/packet_timeline.hpp"

namespace wgbpf {

// The section header's options: who wrote the file and on what.
struct PcapngSection {
    std::string os;          // "Linux 6.1.0-13-amd64"
    std::string application; // "wgbpf 0.4.0"
    std::string comment;     // the command line, or the recording it came from
    // This host's kernel and this wgbpf; `command_line` as the comment.
    static PcapngSection for_this_host(const std::vector<std::string>& command_line);
};

// Link type of every interface: the bytes start at the IP header (LINKTYPE_RAW).
constexpr uint16_t kPcapngLinktypeRaw = 101;

class PcapngWriter {
public:
    using NetnsName = std::function<std::string(uint32_t netns)>; // "" when it has none
    // `style`: the timelines' text in the comments (colour is never used); its realtime offset turns the
    // events' monotonic times into the packets' wall-clock times. `snaplen`: what the interfaces say was captured.
    PcapngWriter(std::ostream& out, const PcapngSection& section, TextStyle style, uint32_t snaplen,
                 NetnsName netns_name);

    // Each device crossing of `t` that carries bytes, as one packet.
    void timeline(const PacketTimeline& t);
    // The interface statistics, last: the events wgbpf lost while capturing (`lost_device`: device records,
    // each a packet's crossing not captured; `lost_other`: the other modules' events), said in a comment on
    // every interface: a loss is not tied to one device, so no drop count is claimed for any.
    void finish(uint64_t lost_device, uint64_t lost_other, uint64_t end_ns);
    [[nodiscard]] WriteResult flush();

    uint64_t packets() const { return packets_; }
    uint64_t interfaces() const { return interfaces_.size(); }
    // Timelines with no captured bytes (no device crossing seen: dropped or lost before one, or older records).
    uint64_t timelines_without_bytes() const { return without_bytes_; }

private:
    uint32_t interface_for(uint32_t netns, const std::string& dev);
    void write_block(uint32_t type, const std::string& body);

    std::ostream& out_;
    TextStyle style_;
    uint32_t snaplen_;
    NetnsName netns_name_;
    std::map<std::pair<uint32_t, std::string>, uint32_t> interfaces_; // (netns, device) -> interface id
    uint64_t packets_ = 0;
    uint64_t without_bytes_ = 0;
};

} // namespace wgbpf
