#include "record/recording_reader.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace wgbpf {
namespace {

constexpr uint32_t kLargeFrame = 1u << 20; // events are ~100 bytes, snapshots some KiB

} // namespace

Result<RecordingReader> RecordingReader::open(const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) return Error{std::string("cannot open: ") + std::strerror(errno)};
    if (S_ISDIR(st.st_mode)) return Error{"is a directory, not a wgbpf recording"};
    auto in = std::make_unique<std::ifstream>(path, std::ios::binary);
    if (!in->is_open()) return Error{std::string("cannot open: ") + std::strerror(errno ? errno : EIO)};
    return start(std::move(in));
}

Result<RecordingReader> RecordingReader::from_bytes(std::string bytes) {
    return start(std::make_unique<std::istringstream>(std::move(bytes), std::ios::binary));
}

Result<RecordingReader> RecordingReader::start(std::unique_ptr<std::istream> in) {
    RecordingReader r(std::move(in));
    std::byte preamble[kRecordingPreambleSize];
    size_t got = r.read(preamble, sizeof preamble);
    if (got == 0) return Error{"empty file, not a wgbpf recording"};
    size_t magic_got = std::min(got, kRecordingMagic.size());
    if (std::memcmp(preamble, kRecordingMagic.data(), magic_got) != 0)
        return Error{"not a wgbpf recording (bad magic)"};
    if (got < sizeof preamble)
        return Error{"truncated: the file ends at byte " + std::to_string(got) + ", inside its 12-byte preamble"};
    r.version_ = get_le32(preamble + kRecordingMagic.size());
    if (r.version_ > kRecordingFormatVersion)
        return Error{"recording format version " + std::to_string(r.version_) + " is newer than this wgbpf (" +
                     std::to_string(kRecordingFormatVersion) + ")"};
    if (r.version_ == 0) return Error{"corrupted: recording format version 0 does not exist"};

    auto first = r.read_frame();
    if (!first) return first;
    if (!*first)
        return Error{"truncated: the file ends at byte " + std::to_string(r.offset_) + ", before its header frame"};
    if ((*first)->kind != FrameKind::header)
        return Error{"corrupted: frame at byte " + std::to_string((*first)->offset) + " should be the header, is " +
                     frame_kind_name(uint32_t((*first)->kind))};
    auto header = decode_header_frame((*first)->payload);
    if (!header) return Error{"corrupted: frame at byte " + std::to_string((*first)->offset) + ": " + header.error()};
    r.header_ = std::move(header.value());
    return r;
}

size_t RecordingReader::read(std::byte* out, size_t n) {
    in_->read(reinterpret_cast<char*>(out), std::streamsize(n));
    size_t got = size_t(in_->gcount());
    offset_ += got;
    return got;
}

// Only asked when a frame claims more than any frame may hold: truncation or corruption?
std::optional<uint64_t> RecordingReader::bytes_left() {
    in_->clear();
    auto here = in_->tellg();
    if (here < 0 || !in_->seekg(0, std::ios::end)) return std::nullopt;
    auto end = in_->tellg();
    in_->seekg(here);
    if (end < here) return std::nullopt;
    return uint64_t(end - here);
}

Result<std::optional<RecordingFrame>> RecordingReader::next() {
    if (!error_.empty()) return Error{error_};
    while (true) {
        auto frame = read_frame();
        if (!frame) {
            error_ = frame.error();
            return frame;
        }
        if (!*frame || known_frame_kind(uint32_t((*frame)->kind))) return frame;
        ++skipped_; // a newer wgbpf's frame kind: what we know is still complete without it
    }
}

Result<std::optional<RecordingFrame>> RecordingReader::read_frame() {
    const uint64_t at = offset_;
    const std::string where = "frame at byte " + std::to_string(at);
    std::byte head[kFrameHeaderSize];
    size_t got = read(head, sizeof head);
    if (got == 0) return std::optional<RecordingFrame>{};
    if (got < sizeof head)
        return Error{"truncated: " + where + " has " + std::to_string(got) + " of its " +
                     std::to_string(kFrameHeaderSize) + " header bytes"};
    uint32_t kind = get_le32(head), length = get_le32(head + 4), crc = get_le32(head + 8);
    if (length > kLargeFrame) { // before allocating for it: does the file even have that much?
        auto left = bytes_left();
        if (left && *left < length)
            return Error{"truncated: " + where + " says " + std::to_string(length) + " bytes, " +
                         std::to_string(*left) + " left"};
        if (length > kMaxFramePayload)
            return Error{"corrupted: " + where + " says " + std::to_string(length) +
                         " bytes, more than a frame may hold"};
    }
    RecordingFrame frame{FrameKind(kind), at, std::vector<std::byte>(length)};
    got = read(frame.payload.data(), length);
    if (got < length)
        return Error{"truncated: " + where + " says " + std::to_string(length) + " bytes, " + std::to_string(got) +
                     " left"};
    if (frame_checksum(kind, frame.payload) != crc) return Error{"corrupted: " + where + " fails its checksum"};
    return std::optional<RecordingFrame>{std::move(frame)};
}

} // namespace wgbpf
