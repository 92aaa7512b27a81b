#include "record/recording_writer.hpp"

#include "common/unique_fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <iterator>

#include "wgbpf/abi/events.h"
#include "event/event_decoder.hpp"
#include "record/recording_format.hpp"

namespace wgbpf {
namespace {

// Event frames are the kernel's records as they are; the format says little-endian.
static_assert(std::endian::native == std::endian::little, "recordings are little-endian: records are written raw");

constexpr size_t kFlushAt = 64 * 1024; // event frames are written in batches of about this size

std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

// watch runs as root and -w takes any path. The file is opened once, never through a symbolic link, and
// checked through that one descriptor before anything is cut: a file that holds something else than a
// recording is never clobbered, and no one can swap the path between the check and the write. Recordings
// hold packet headers, payload bytes, rulesets and WireGuard public keys: only the owner may read them.
Result<UniqueFd> open_for_recording(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid() && errno == ELOOP)
        return Error{"cannot record to " + path + ": it is a symbolic link (not followed; name the file itself)"};
    if (!fd.valid()) return Error{"cannot create recording " + path + ": " + std::strerror(errno)};
    struct stat st {};
    if (fstat(fd.get(), &st) != 0) return Error{"cannot record to " + path + ": " + std::strerror(errno)};
    if (!S_ISREG(st.st_mode)) {
        if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) return fd; // a pipe or a device: streamed as it is
        return Error{"cannot record to " + path + ": not a regular file"};
    }
    char magic[kRecordingMagic.size()] = {};
    bool other = st.st_size > 0 && (::pread(fd.get(), magic, sizeof magic, 0) != ssize_t(sizeof magic) ||
                                    std::memcmp(magic, kRecordingMagic.data(), sizeof magic) != 0);
    if (other) return Error{"refusing to overwrite " + path + ": it is not a wgbpf recording"};
    if (::ftruncate(fd.get(), 0) != 0 || ::fchmod(fd.get(), 0600) != 0)
        return Error{"cannot record to " + path + ": " + std::strerror(errno)};
    return fd;
}

} // namespace

Result<std::unique_ptr<RecordingWriter>> RecordingWriter::open(const std::string& path, const RecordingHeader& header,
                                                               RecordingNameSources names) {
    auto fd = open_for_recording(path);
    if (!fd) return fd;
    std::unique_ptr<RecordingWriter> w(new RecordingWriter(std::move(fd.value()), path, std::move(names)));
    std::byte preamble[kRecordingPreambleSize];
    std::memcpy(preamble, kRecordingMagic.data(), kRecordingMagic.size());
    put_le32(preamble + kRecordingMagic.size(), kRecordingFormatVersion);
    w->buffer_.insert(w->buffer_.end(), preamble, preamble + sizeof preamble);
    if (auto r = w->frame(uint32_t(FrameKind::header), encode_frame(header)); !r) return r;
    if (auto r = w->flush(); !r) return r;
    return w;
}

RecordingWriter::RecordingWriter(UniqueFd fd, std::string path, RecordingNameSources names)
    : fd_(std::move(fd)), path_(std::move(path)), names_(std::move(names)) {}

RecordingWriter::~RecordingWriter() { (void)close(); }

Result<void> RecordingWriter::failed() const {
    if (!fd_.valid() && error_.empty()) return Error{"recording " + path_ + " is closed"};
    if (!error_.empty()) return Error{error_};
    return {};
}

Result<void> RecordingWriter::frame(uint32_t kind, std::span<const std::byte> payload) {
    if (auto f = failed(); !f) return f;
    std::byte head[kFrameHeaderSize];
    put_le32(head, kind);
    put_le32(head + 4, uint32_t(payload.size()));
    put_le32(head + 8, frame_checksum(kind, payload));
    buffer_.insert(buffer_.end(), head, head + sizeof head);
    buffer_.insert(buffer_.end(), payload.begin(), payload.end());
    if (buffer_.size() >= kFlushAt) return flush();
    return {};
}

Result<void> RecordingWriter::frame(uint32_t kind, const std::string& json) {
    if (json.size() > kMaxFramePayload)
        return Error{frame_kind_name(kind) + " frame too large to record (" + std::to_string(json.size()) + " bytes)"};
    return frame(kind, bytes_of(json));
}

// Writes whole buffered frames; a partial write (disk full) leaves a truncated last frame, which readers
// report as such.
Result<void> RecordingWriter::flush() {
    if (auto f = failed(); !f) return f;
    size_t done = 0;
    while (done < buffer_.size()) {
        ssize_t n = ::write(fd_.get(), buffer_.data() + done, buffer_.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            error_ = "cannot write recording " + path_ + ": " + std::strerror(errno);
            buffer_.clear();
            return Error{error_};
        }
        done += size_t(n);
    }
    buffer_.clear();
    return {};
}

Result<void> RecordingWriter::close() {
    if (!fd_.valid()) return failed();
    Result<void> flushed = flush();
    fd_.reset();
    return flushed;
}

namespace {

std::vector<Route> sorted_routes(const std::vector<Route>& routes) {
    std::vector<Route> out = routes;
    if (!std::is_sorted(out.begin(), out.end())) std::sort(out.begin(), out.end());
    return out;
}

// What turns `before` into `now` (both sorted), or nothing when that is no shorter than `now` itself.
std::optional<RouteChanges> route_changes(const std::vector<Route>& before, const std::vector<Route>& now) {
    RouteChanges c;
    std::set_difference(before.begin(), before.end(), now.begin(), now.end(), std::back_inserter(c.removed));
    std::set_difference(now.begin(), now.end(), before.begin(), before.end(), std::back_inserter(c.added));
    if (c.removed.size() + c.added.size() >= now.size() / 2) return std::nullopt;
    return c;
}

} // namespace

// After the first snapshot of a namespace, its routes are written as changes to the ones written before:
// a full table on every route change would be megabytes per change.
Result<void> RecordingWriter::write_config(const ConfigSnapshot& snapshot) {
    std::vector<Route> now = sorted_routes(snapshot.config.routes);
    auto before = written_routes_.find(snapshot.netns);
    std::optional<RouteChanges> changes;
    if (before != written_routes_.end() && !snapshot.route_changes) changes = route_changes(before->second, now);
    Result<void> written =
        frame(uint32_t(FrameKind::config), changes ? encode_config_frame(snapshot, &*changes) : encode_frame(snapshot));
    if (written) written_routes_[snapshot.netns] = std::move(now);
    return written;
}

Result<void> RecordingWriter::write_plan(const PlanSnapshot& snapshot) {
    return frame(uint32_t(FrameKind::plan), encode_frame(snapshot));
}

Result<void> RecordingWriter::write_names(const RecordingNames& names) {
    if (!names.symbols.empty()) return Error{"symbol table entries are the writer's own (it interns drop locations)"};
    for (const auto& [reason, name] : names.drop_reasons) named_reasons_.insert(reason);
    return frame(uint32_t(FrameKind::names), encode_frame(names));
}

Result<void> RecordingWriter::write_lost(const LostEvents& lost) {
    return frame(uint32_t(FrameKind::lost), encode_frame(lost));
}

Result<void> RecordingWriter::write_flush(uint64_t now_ns) {
    std::byte payload[8];
    put_le32(payload, uint32_t(now_ns));
    put_le32(payload + 4, uint32_t(now_ns >> 32));
    return frame(uint32_t(FrameKind::flush), std::span<const std::byte>(payload, sizeof payload));
}

Result<void> RecordingWriter::write_nftrace(const NftraceEvent& event) {
    return frame(uint32_t(FrameKind::nftrace), encode_frame(event));
}

Result<void> RecordingWriter::write_end(const RecordingEnd& end) {
    RecordingEnd e = end;
    e.events = events_;
    e.unrecordable = unrecordable_;
    if (auto r = frame(uint32_t(FrameKind::end), encode_frame(e)); !r) return r;
    if (auto r = flush(); !r) return r;
    if (fsync(fd_.get()) != 0 && errno != EINVAL && errno != EROFS) // pipes and character devices cannot sync
        return Error{error_ = "cannot write recording " + path_ + ": " + std::strerror(errno)};
    return {};
}

Result<void> RecordingWriter::write_event(std::span<const std::byte> record) {
    if (auto f = failed(); !f) return f;
    // Only layouts this build decodes are recorded: anything else could carry a kernel address.
    auto event = decode_event(record);
    if (!event) {
        ++unrecordable_;
        return {};
    }
    wgbpf_event_header h;
    std::memcpy(&h, record.data(), sizeof h);
    auto body = record.first(h.size); // what follows the record in the ring buffer sample is not the record's
    if (h.type == WGBPF_EV_DROP) return write_drop(body);
    ++events_;
    return frame(uint32_t(FrameKind::event), body);
}

// The drop record with its location replaced by a symbol table index, preceded by a names frame for any
// name it needs that the recording does not have yet.
Result<void> RecordingWriter::write_drop(std::span<const std::byte> record) {
    wgbpf_drop drop;
    std::memcpy(&drop, record.data(), sizeof drop); // decode_event checked the size
    RecordingNames fresh;
    uint32_t index = intern_symbol(drop.location, fresh);
    if (names_.drop_reason && named_reasons_.insert(drop.reason).second)
        fresh.drop_reasons[drop.reason] = names_.drop_reason(drop.reason);
    if (!fresh.symbols.empty() || !fresh.drop_reasons.empty())
        if (auto r = frame(uint32_t(FrameKind::names), encode_frame(fresh)); !r) return r;
    drop.location = index;
    ++events_;
    return frame(uint32_t(FrameKind::event), std::as_bytes(std::span(&drop, 1)));
}

// Addresses are resolved once; locations with the same name (unknown ones) share an index.
uint32_t RecordingWriter::intern_symbol(uint64_t address, RecordingNames& fresh) {
    if (auto it = symbol_by_address_.find(address); it != symbol_by_address_.end()) return it->second;
    std::string name = names_.symbol ? names_.symbol(address) : "unknown";
    auto [it, added] = symbol_index_.emplace(std::move(name), uint32_t(symbol_index_.size()));
    if (added) fresh.symbols[it->second] = it->first;
    symbol_by_address_[address] = it->second;
    return it->second;
}

} // namespace wgbpf
