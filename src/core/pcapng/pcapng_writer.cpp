#include "pcapng/pcapng_writer.hpp"

#include <fmt/format.h>

#include <sys/utsname.h>

#include <cstring>

#include "common/utf8.hpp"
#include "common/version.hpp"

#include "render/terminal_text.hpp"
#include "render/timeline_render.hpp"

namespace wgbpf {
namespace {

// Block types and option codes (draft-ietf-opsawg-pcapng, sections 4 and 3.5).
constexpr uint32_t kSectionHeader = 0x0A0D0D0A;
constexpr uint32_t kInterfaceDescription = 1;
constexpr uint32_t kInterfaceStatistics = 5;
constexpr uint32_t kEnhancedPacket = 6;
constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;

constexpr uint16_t kOptEnd = 0;
constexpr uint16_t kOptComment = 1;
constexpr uint16_t kShbOs = 3;
constexpr uint16_t kShbUserAppl = 4;
constexpr uint16_t kIfName = 2;
constexpr uint16_t kIfDescription = 3;
constexpr uint16_t kIfTsresol = 9;
constexpr uint16_t kEpbFlags = 2;
constexpr uint16_t kEpbPacketId = 5;
constexpr uint32_t kEpbInbound = 1; // epb_flags bits 0-1: the direction
constexpr uint32_t kEpbOutbound = 2;

// pcapng is written in the host's byte order (the section's magic says which): little-endian here.
template <typename T>
void put(std::string& b, T v) {
    char raw[sizeof(T)];
    std::memcpy(raw, &v, sizeof(T));
    b.append(raw, sizeof(T));
}

void pad4(std::string& b) { b.append((4 - b.size() % 4) % 4, '\0'); }

void option(std::string& b, uint16_t code, const void* value, size_t size) {
    put<uint16_t>(b, code);
    put<uint16_t>(b, uint16_t(size));
    b.append(static_cast<const char*>(value), size);
    pad4(b);
}

// Text from the kernel or a file, line by line, every control character and escape sequence made visible (no
// colour is ever written here, so none is let through): Wireshark shows comments and names as they are. pcapng
// strings are UTF-8: a byte that does not start a well-formed sequence is written as \xNN.
std::string safe_text(std::string_view text) {
    std::string utf8;
    for (size_t i = 0; i < text.size();) {
        if (size_t n = utf8_sequence_at(text, i)) {
            utf8.append(text.substr(i, n));
            i += n;
        } else {
            utf8 += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[i++]));
        }
    }
    std::string safe;
    std::string_view rest = utf8;
    for (size_t start = 0; start <= rest.size();) {
        size_t end = rest.find('\n', start);
        if (end == std::string_view::npos) end = rest.size();
        safe += terminal_field(rest.substr(start, end - start));
        if (end < rest.size()) safe += '\n';
        start = end + 1;
    }
    return safe;
}

// A text option (made safe first), at most what an option's length can say.
void text_option(std::string& b, uint16_t code, std::string_view text) {
    if (text.empty()) return;
    std::string safe = safe_text(text);
    if (safe.size() > 0xfff0) { // a very long timeline's comment: whole lines
        size_t cut = safe.rfind('\n', 0xfff0);
        if (cut == std::string::npos) // one endless line: cut before a UTF-8 sequence, not inside one
            for (cut = 0xfff0; cut > 0 && (static_cast<unsigned char>(safe[cut]) & 0xc0) == 0x80;) --cut;
        safe.resize(cut);
    }
    option(b, code, safe.data(), safe.size());
}

void end_of_options(std::string& b) {
    put<uint16_t>(b, kOptEnd);
    put<uint16_t>(b, 0);
}

// Wall-clock nanoseconds (if_tsresol 9) as the high and low halves a packet block carries.
void timestamp(std::string& b, uint64_t ns) {
    put<uint32_t>(b, uint32_t(ns >> 32));
    put<uint32_t>(b, uint32_t(ns));
}

} // namespace

PcapngSection PcapngSection::for_this_host(const std::vector<std::string>& command_line) {
    PcapngSection s;
    utsname u{};
    if (uname(&u) == 0) s.os = fmt::format("{} {}", u.sysname, u.release);
    s.application = fmt::format("wgbpf {}", wgbpf_version());
    for (const std::string& arg : command_line) s.comment += (s.comment.empty() ? "" : " ") + arg;
    return s;
}

PcapngWriter::PcapngWriter(std::ostream& out, const PcapngSection& section, TextStyle style, uint32_t snaplen,
                           NetnsName netns_name)
    : out_(out), style_(std::move(style)), snaplen_(snaplen), netns_name_(std::move(netns_name)) {
    style_.colour = false;
    std::string body;
    put<uint32_t>(body, kByteOrderMagic);
    put<uint16_t>(body, 1); // major version
    put<uint16_t>(body, 0); // minor version
    put<int64_t>(body, -1); // section length: not given
    text_option(body, kOptComment, section.comment);
    text_option(body, kShbOs, section.os);
    text_option(body, kShbUserAppl, section.application);
    end_of_options(body);
    write_block(kSectionHeader, body);
}

void PcapngWriter::write_block(uint32_t type, const std::string& body) {
    uint32_t total = uint32_t(body.size() + 12); // type, length, body, length again
    std::string b;
    b.reserve(total);
    put<uint32_t>(b, type);
    put<uint32_t>(b, total);
    b += body;
    put<uint32_t>(b, total);
    out_.write(b.data(), std::streamsize(b.size()));
}

uint32_t PcapngWriter::interface_for(uint32_t netns, const std::string& dev) {
    auto key = std::make_pair(netns, dev);
    if (auto it = interfaces_.find(key); it != interfaces_.end()) return it->second;
    uint32_t id = uint32_t(interfaces_.size());
    interfaces_.emplace(key, id);
    std::string body;
    put<uint16_t>(body, kPcapngLinktypeRaw);
    put<uint16_t>(body, 0); // reserved
    put<uint32_t>(body, snaplen_);
    text_option(body, kIfName, dev);
    std::string ns_name = netns_name_ ? netns_name_(netns) : std::string();
    text_option(body, kIfDescription,
                ns_name.empty() ? fmt::format("{} in netns {}", dev, netns)
                                : fmt::format("{} in netns {} ({})", dev, ns_name, netns));
    uint8_t nanoseconds = 9;
    option(body, kIfTsresol, &nanoseconds, 1);
    end_of_options(body);
    write_block(kInterfaceDescription, body);
    return id;
}

void PcapngWriter::timeline(const PacketTimeline& t) {
    std::string comment; // rendered once, for the first crossing with bytes
    bool any = false;
    for (const TimelineStep& step : t.steps) {
        const auto* d = std::get_if<DeviceStep>(&step);
        if (!d || d->bytes.empty()) continue;
        any = true;
        if (comment.empty()) comment = render_timeline_text(t, style_);
        uint32_t interface = interface_for(d->netns ? d->netns : t.netns, d->dev);
        std::string body;
        put<uint32_t>(body, interface);
        timestamp(body, uint64_t(int64_t(d->t_ns) + style_.realtime_offset_ns));
        put<uint32_t>(body, uint32_t(d->bytes.size()));
        put<uint32_t>(body, std::max<uint32_t>(d->wire_len, uint32_t(d->bytes.size())));
        body.append(reinterpret_cast<const char*>(d->bytes.data()), d->bytes.size());
        pad4(body);
        text_option(body, kOptComment, comment);
        uint32_t flags = d->direction == DeviceDirection::ingress ? kEpbInbound : kEpbOutbound;
        option(body, kEpbFlags, &flags, sizeof flags);
        uint64_t packet_id = t.id;
        option(body, kEpbPacketId, &packet_id, sizeof packet_id);
        end_of_options(body);
        write_block(kEnhancedPacket, body);
        ++packets_;
    }
    if (!any) ++without_bytes_;
}

void PcapngWriter::finish(uint64_t lost_device, uint64_t lost_other, uint64_t end_ns) {
    if (!lost_device && !lost_other) return;
    std::string said =
        fmt::format("wgbpf lost {} device records (each a packet's crossing of a watched device, on any interface: not "
                    "in this file) and {} other events while capturing; the timelines they touch say so",
                    lost_device, lost_other);
    for (const auto& [key, id] : interfaces_) {
        std::string body;
        put<uint32_t>(body, id);
        timestamp(body, uint64_t(int64_t(end_ns) + style_.realtime_offset_ns));
        text_option(body, kOptComment, said);
        end_of_options(body);
        write_block(kInterfaceStatistics, body);
    }
}

WriteResult PcapngWriter::flush() { return flush_output(out_); }

} // namespace wgbpf
