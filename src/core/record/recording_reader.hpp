#pragma once
// Reads a recording (docs/recording-format.md) frame by frame. Every problem is an error value that says
// what and where: "not a wgbpf recording (bad magic)", "recording format version 7 is newer than this wgbpf
// (1)", "truncated: frame at byte 1234 says 400 bytes, 12 left", "corrupted: frame at byte N fails its
// checksum". Frames before a problem are good (each is checksummed), so a reader can use them and report
// the problem after. Frames of kinds this wgbpf does not know are skipped and counted.
#include <cstddef>
#include <cstdint>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "record/recording_format.hpp"
#include "record/recording_frames.hpp"

namespace wgbpf {

struct RecordingFrame {
    FrameKind kind = FrameKind::event;
    uint64_t offset = 0;            // of the frame in the file
    std::vector<std::byte> payload; // checksum verified
};

class RecordingReader {
public:
    // Checks the preamble and reads the header frame.
    static Result<RecordingReader> open(const std::string& path);
    static Result<RecordingReader> from_bytes(std::string bytes); // tests, fuzzing

    // The next frame; nullopt at the end of the file. After an error every later call returns it again.
    Result<std::optional<RecordingFrame>> next();

    const RecordingHeader& header() const { return header_; }
    uint32_t format_version() const { return version_; }
    uint64_t offset() const { return offset_; }           // bytes read so far
    uint64_t skipped_unknown() const { return skipped_; } // frames of unknown kinds

private:
    explicit RecordingReader(std::unique_ptr<std::istream> in) : in_(std::move(in)) {}
    static Result<RecordingReader> start(std::unique_ptr<std::istream> in);
    Result<std::optional<RecordingFrame>> read_frame();
    size_t read(std::byte* out, size_t n);
    std::optional<uint64_t> bytes_left();

    std::unique_ptr<std::istream> in_;
    RecordingHeader header_;
    uint32_t version_ = 0;
    uint64_t offset_ = 0;
    uint64_t skipped_ = 0;
    std::string error_;
};

} // namespace wgbpf
