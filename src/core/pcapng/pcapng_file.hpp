#pragma once
// `watch --pcapng FILE` and `replay REC --pcapng FILE`: a PcapngWriter on a file, its errors said once. A file
// that cannot be written ends the run with exit 1 at its end (the rest of the output goes on until then).
#include <fstream>
#include <memory>
#include <string>

#include "common/result.hpp"
#include "pcapng/pcapng_writer.hpp"

namespace wgbpf {

class PcapngFile {
public:
    // Opens (truncates) `path` and writes the section header: a path that cannot be written is said at once.
    [[nodiscard]] static Result<std::unique_ptr<PcapngFile>> open(const std::string& path, const PcapngSection& section,
                                                                  TextStyle style, uint32_t snaplen,
                                                                  PcapngWriter::NetnsName netns_name);

    void timeline(const PacketTimeline& t);
    // Once per wake-up: what was written reaches the file. The first failure is kept (and writing stops).
    void flush();
    // The statistics, the last flush, and a line on stderr: what the file holds. False: it could not be written.
    [[nodiscard]] bool finish(uint64_t lost_device, uint64_t lost_other, uint64_t end_ns);
    uint64_t packets() const { return writer_.packets(); }

private:
    PcapngFile(std::string path, std::unique_ptr<std::ofstream> out, const PcapngSection& section, TextStyle style,
               uint32_t snaplen, PcapngWriter::NetnsName netns_name);
    std::string path_;
    std::unique_ptr<std::ofstream> out_;
    PcapngWriter writer_;
    std::string error_; // the first write error ("" none)
};

} // namespace wgbpf
