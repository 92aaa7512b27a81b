#pragma once
// The recording file format (docs/recording-format.md): magic, format version, then frames
// {u32 kind, u32 length, u32 crc32, payload}, all little-endian. The checksum covers the frame's kind and
// length as well as its payload, so a flipped bit anywhere in a frame is caught.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace wgbpf {

constexpr std::array<char, 8> kRecordingMagic{'W', 'G', 'B', 'P', 'F', 'R', 'E', 'C'};
constexpr uint32_t kRecordingFormatVersion = 2;  // 2: routes as arrays, later config frames with route changes
constexpr size_t kRecordingPreambleSize = 12;    // magic + version
constexpr size_t kFrameHeaderSize = 12;          // kind, length, crc32
constexpr uint32_t kMaxFramePayload = 64u << 20; // far above any snapshot; a larger length is corruption

enum class FrameKind : uint32_t {
    header = 1,  // JSON: who recorded, where, when (always the first frame)
    config = 2,  // JSON: one namespace's configuration and WireGuard interfaces
    plan = 3,    // JSON: one namespace's netfilter bracket plan
    names = 4,   // JSON: drop-reason names and the symbol table that drop records point into
    event = 5,   // one ring-buffer record, raw (drop records rewritten: no kernel addresses)
    lost = 6,    // JSON: the kernel lost events of a module here
    end = 7,     // JSON: totals; its absence means the recording was cut short
    flush = 8,   // u64 (LE): watch finished idle steps here, at this CLOCK_MONOTONIC time; replay does the same
    nftrace = 9, // JSON: one nftrace event (watch --nftrace), as it was read; readers before it skip it
};

bool known_frame_kind(uint32_t kind);
std::string frame_kind_name(uint32_t kind); // "config", ..., "kind 42"

// crc32 (zlib) of the frame's kind and length (little-endian) followed by its payload.
uint32_t frame_checksum(uint32_t kind, std::span<const std::byte> payload);

// Little-endian u32 in and out of byte buffers.
void put_le32(std::byte* out, uint32_t v);
uint32_t get_le32(const std::byte* in);

} // namespace wgbpf
