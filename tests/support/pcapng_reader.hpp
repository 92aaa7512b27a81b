#pragma once
// A pcapng file read back block by block, as a reader would (draft-ietf-opsawg-pcapng), for the tests of
// `--pcapng`: the unit tests check the writer's blocks with it, the end-to-end tests what a watch wrote (also
// where tshark is not installed, as in the stock-kernel VMs). Throws std::runtime_error on a malformed file.
#include <cstdint>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace wgbpf::test {

struct PcapngBlock {
    uint32_t type = 0;
    std::string body; // between the length fields
};

template <typename T>
T pcapng_at(const std::string& s, size_t offset) {
    if (offset + sizeof(T) > s.size()) throw std::runtime_error("pcapng: read past the end of a block");
    T v{};
    std::memcpy(&v, s.data() + offset, sizeof(T));
    return v;
}

inline std::vector<PcapngBlock> pcapng_blocks(const std::string& file) {
    std::vector<PcapngBlock> blocks;
    for (size_t offset = 0; offset < file.size();) {
        PcapngBlock b;
        b.type = pcapng_at<uint32_t>(file, offset);
        auto total = pcapng_at<uint32_t>(file, offset + 4);
        if (total % 4 || total < 12 || offset + total > file.size())
            throw std::runtime_error("pcapng: block of bad length " + std::to_string(total));
        if (pcapng_at<uint32_t>(file, offset + total - 4) != total)
            throw std::runtime_error("pcapng: trailing length differs");
        b.body = file.substr(offset + 8, total - 12);
        blocks.push_back(std::move(b));
        offset += total;
    }
    return blocks;
}

// A block's options from `offset` in its body; they must end with opt_endofopt at the block's end.
inline std::multimap<uint16_t, std::string> pcapng_options(const std::string& body, size_t offset) {
    std::multimap<uint16_t, std::string> options;
    while (offset + 4 <= body.size()) {
        auto code = pcapng_at<uint16_t>(body, offset);
        auto len = pcapng_at<uint16_t>(body, offset + 2);
        if (code == 0) {
            if (len != 0 || offset + 4 != body.size()) throw std::runtime_error("pcapng: options end early");
            return options;
        }
        if (offset + 4 + len > body.size()) throw std::runtime_error("pcapng: option past its block");
        options.emplace(code, body.substr(offset + 4, len));
        offset += 4 + (len + 3u) / 4 * 4;
    }
    throw std::runtime_error("pcapng: options without their end");
}

// An enhanced packet block, decoded.
struct PcapngPacket {
    uint32_t interface = 0;
    uint64_t timestamp = 0;
    uint32_t wire_len = 0;
    std::string data;
    std::string comment;
    uint32_t flags = 0;
    uint64_t packet_id = 0;
};

inline PcapngPacket pcapng_packet(const PcapngBlock& b) {
    if (b.type != 6) throw std::runtime_error("pcapng: not an enhanced packet block");
    PcapngPacket p;
    p.interface = pcapng_at<uint32_t>(b.body, 0);
    p.timestamp = uint64_t(pcapng_at<uint32_t>(b.body, 4)) << 32 | pcapng_at<uint32_t>(b.body, 8);
    auto captured = pcapng_at<uint32_t>(b.body, 12);
    p.wire_len = pcapng_at<uint32_t>(b.body, 16);
    if (20 + captured > b.body.size()) throw std::runtime_error("pcapng: packet past its block");
    p.data = b.body.substr(20, captured);
    auto options = pcapng_options(b.body, 20 + (captured + 3u) / 4 * 4);
    if (auto it = options.find(1); it != options.end()) p.comment = it->second;
    if (auto it = options.find(2); it != options.end()) p.flags = pcapng_at<uint32_t>(it->second, 0);
    if (auto it = options.find(5); it != options.end()) p.packet_id = pcapng_at<uint64_t>(it->second, 0);
    return p;
}

} // namespace wgbpf::test
