#include "record/recording_format.hpp"

#include <zlib.h>

namespace wgbpf {

bool known_frame_kind(uint32_t kind) {
    return kind >= uint32_t(FrameKind::header) && kind <= uint32_t(FrameKind::nftrace);
}

std::string frame_kind_name(uint32_t kind) {
    switch (FrameKind(kind)) {
    case FrameKind::header: return "header";
    case FrameKind::config: return "config";
    case FrameKind::plan: return "plan";
    case FrameKind::names: return "names";
    case FrameKind::event: return "event";
    case FrameKind::lost: return "lost";
    case FrameKind::end: return "end";
    case FrameKind::flush: return "flush";
    case FrameKind::nftrace: return "nftrace";
    }
    return "kind " + std::to_string(kind);
}

uint32_t frame_checksum(uint32_t kind, std::span<const std::byte> payload) {
    std::byte head[8];
    put_le32(head, kind);
    put_le32(head + 4, uint32_t(payload.size()));
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(head), sizeof head);
    // zlib takes uInt lengths (frames are far below that); a null buffer would reset the checksum.
    if (!payload.empty()) crc = crc32(crc, reinterpret_cast<const Bytef*>(payload.data()), uInt(payload.size()));
    return uint32_t(crc);
}

void put_le32(std::byte* out, uint32_t v) {
    for (int i = 0; i < 4; ++i) out[i] = std::byte((v >> (8 * i)) & 0xff);
}

uint32_t get_le32(const std::byte* in) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t(in[i]) << (8 * i);
    return v;
}

} // namespace wgbpf
