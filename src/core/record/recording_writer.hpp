#pragma once
// Writes a recording (docs/recording-format.md) for `wgbpf watch -w FILE`. Frames are buffered and written
// whole, so the file is a valid recording up to its last complete frame whenever the process stops; call
// flush() once per poll round to bound what a crash can take away.
//
// Never records a kernel address: a drop record's location is resolved to "symbol+0xoff", interned into the
// recording's symbol table, and replaced by its index in the table; the reason gets its name recorded too.
// Records whose layout this build does not know are left out (counted), since they could hold anything.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "record/recording_frames.hpp"

namespace wgbpf {

// The running kernel's names, for drop records (watch: DropReasons and KernelSymbols).
struct RecordingNameSources {
    std::function<std::string(uint32_t reason)> drop_reason; // unset: reasons stay numbers
    std::function<std::string(uint64_t address)> symbol;     // unset: every location is "unknown"
};

class RecordingWriter {
public:
    // Creates path (replacing an earlier recording, never another kind of file) and writes the preamble and
    // the header frame.
    static Result<std::unique_ptr<RecordingWriter>> open(const std::string& path, const RecordingHeader& header,
                                                         RecordingNameSources names = {});

    RecordingWriter(const RecordingWriter&) = delete;
    RecordingWriter& operator=(const RecordingWriter&) = delete;
    ~RecordingWriter(); // flushes what is buffered (errors then go unreported: call close())

    Result<void> write_config(const ConfigSnapshot& snapshot);   // at start and whenever it changes
    Result<void> write_plan(const PlanSnapshot& snapshot);       // at start and whenever brackets move
    Result<void> write_names(const RecordingNames& names);       // drop reasons only, optional: drops add theirs
    Result<void> write_event(std::span<const std::byte> record); // one ring-buffer record, as received
    Result<void> write_lost(const LostEvents& lost);             // when the kernel reports lost events
    Result<void> write_flush(uint64_t now_ns);                   // where watch flushed its pipeline
    Result<void> write_nftrace(const NftraceEvent& event);       // each nftrace event as it is read
    Result<void> write_end(const RecordingEnd& end);             // last; flushes and syncs
    Result<void> flush();
    Result<void> close(); // flush and close; later writes fail

    const std::string& path() const { return path_; }
    uint64_t events() const { return events_; }             // event frames written
    uint64_t unrecordable() const { return unrecordable_; } // records left out

private:
    RecordingWriter(UniqueFd fd, std::string path, RecordingNameSources names);
    Result<void> frame(uint32_t kind, std::span<const std::byte> payload);
    Result<void> frame(uint32_t kind, const std::string& json);
    Result<void> write_drop(std::span<const std::byte> record);
    uint32_t intern_symbol(uint64_t address, RecordingNames& fresh);
    Result<void> failed() const;

    UniqueFd fd_;
    std::string path_;
    std::string error_; // sticky: once a write failed, every later one says why
    std::vector<std::byte> buffer_;
    RecordingNameSources names_;
    std::map<uint64_t, uint32_t> symbol_by_address_;
    std::map<std::string, uint32_t> symbol_index_;
    std::map<uint32_t, std::vector<Route>> written_routes_; // per namespace, sorted: later frames carry changes
    std::set<uint32_t> named_reasons_;
    uint64_t events_ = 0;
    uint64_t unrecordable_ = 0;
};

} // namespace wgbpf
