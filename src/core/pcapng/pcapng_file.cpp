#include "pcapng/pcapng_file.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

namespace wgbpf {

Result<std::unique_ptr<PcapngFile>> PcapngFile::open(const std::string& path, const PcapngSection& section,
                                                     TextStyle style, uint32_t snaplen,
                                                     PcapngWriter::NetnsName netns_name) {
    errno = 0;
    auto out = std::make_unique<std::ofstream>(path, std::ios::binary | std::ios::trunc);
    if (!*out) return Error{"cannot write " + path + ": " + (errno ? std::strerror(errno) : "cannot open")};
    std::unique_ptr<PcapngFile> file(
        new PcapngFile(path, std::move(out), section, std::move(style), snaplen, std::move(netns_name)));
    file->flush();
    if (!file->error_.empty()) return Error{file->error_};
    return file;
}

PcapngFile::PcapngFile(std::string path, std::unique_ptr<std::ofstream> out, const PcapngSection& section,
                       TextStyle style, uint32_t snaplen, PcapngWriter::NetnsName netns_name)
    : path_(std::move(path)), out_(std::move(out)),
      writer_(*out_, section, std::move(style), snaplen, std::move(netns_name)) {}

void PcapngFile::timeline(const PacketTimeline& t) {
    if (error_.empty()) writer_.timeline(t);
}

void PcapngFile::flush() {
    if (!error_.empty()) return;
    if (WriteResult w = writer_.flush(); w.state != WriteState::ok) {
        error_ = "cannot write " + path_ + ": " + w.error;
        spdlog::error("{} (the pcapng file stops here)", error_);
    }
}

bool PcapngFile::finish(uint64_t lost_device, uint64_t lost_other, uint64_t end_ns) {
    if (error_.empty()) writer_.finish(lost_device, lost_other, end_ns);
    flush();
    if (!error_.empty()) return false;
    errno = 0;
    out_->close();
    if (out_->fail()) {
        spdlog::error("cannot write {}: {}", path_, errno ? std::strerror(errno) : "close failed");
        return false;
    }
    spdlog::info("{}: {} packets on {} interfaces{}", path_, writer_.packets(), writer_.interfaces(),
                 writer_.timelines_without_bytes()
                     ? fmt::format("; {} timelines are not in it (no device crossing of theirs was seen with bytes)",
                                   writer_.timelines_without_bytes())
                     : std::string());
    if (writer_.interfaces() == 0 && (lost_device || lost_other)) // no interface block to say it in
        spdlog::warn("{}: {} device records and {} other events were lost, and no packet was captured", path_,
                     lost_device, lost_other);
    return true;
}

} // namespace wgbpf
