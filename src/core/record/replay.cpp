// The replay command: RecordingReader -> ReplaySession -> OutputWriter, the renderers watch uses.
// Linked into the wgbpf executable only (OutputWriter lives with the CLI).
#include "record/replay.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <ctime>
#include <iostream>

#include "common/exit_codes.hpp"
#include "render/output_writer.hpp"
#include "common/result.hpp"
#include "record/recording_reader.hpp"
#include "record/replay_session.hpp"
#include "pcapng/pcapng_file.hpp"
#include "common/version.hpp"

namespace wgbpf {
namespace {

std::string when(int64_t unix_s) {
    std::time_t t = unix_s;
    std::tm tm{};
    if (!localtime_r(&t, &tm)) return "at an unknown time";
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %z", &tm);
    return buf;
}

// The recording's command line as one text ("" when not recorded).
std::string command_of(const RecordingHeader& h) {
    std::string command;
    for (const std::string& arg : h.command_line) command += (command.empty() ? "" : " ") + arg;
    return command;
}

void describe(const std::string& path, const RecordingHeader& h) {
    const std::string command = command_of(h);
    spdlog::info("replaying {}: recorded {} by wgbpf {} on kernel {}{}{}", path, when(h.created_unix_s),
                 h.wgbpf_version, h.kernel_release.empty() ? "unknown" : h.kernel_release, command.empty() ? "" : ": ",
                 command);
}

// The recording's own summary when it has one; else what replay saw (a recording cut short).
std::vector<ModuleStatus> module_summary(const ReplayOutcome& outcome, const EventPipeline& pipeline) {
    if (outcome.end) return outcome.end->modules;
    std::vector<ModuleStatus> modules;
    for (ModuleId m : modules_by_name()) {
        uint64_t events = pipeline.events_per_module()[m], lost = outcome.lost[m];
        if (events || lost) modules.push_back(ModuleStatus{m, true, "recorded", {}, events, lost});
    }
    return modules;
}

// What the recording's nftrace frames gave, when it has any (watch --nftrace).
std::optional<NftraceSummary> nftrace_summary(const EventPipeline& pipeline) {
    const NftraceMergeStats* stats = pipeline.nftrace_stats();
    if (!stats || stats->received == 0) return std::nullopt;
    NftraceSummary s;
    s.received = stats->received;
    s.merged = stats->merged;
    s.unmatched = stats->unmatched;
    s.dropped = stats->dropped;
    return s;
}

} // namespace

RecordingReader open_recording(const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0 && errno == ENOENT)
        throw FatalError("recording " + path + " not found", ErrorKind::not_found);
    auto reader = RecordingReader::open(path);
    if (!reader) throw FatalError(path + ": " + reader.error(), ErrorKind::failure);
    return std::move(reader.value());
}

int run_replay(const ReplayOptions& options) {
    RecordingReader reader = open_recording(options.path);
    const RecordingHeader& header = reader.header();
    describe(options.path, header);

    std::unique_ptr<OutputWriter> output;
    std::unique_ptr<PcapngFile> pcapng; // --pcapng
    PipelineSinks sinks;
    if (options.steps) {
        sinks.route = [&](const RouteDecision& d) { output->route(d); };
        sinks.netfilter = [&](const NetfilterStep& s) { output->netfilter(s); };
        sinks.drop = [&](const DropStep& d) { output->drop(d); };
    } else {
        sinks.timeline = [&](const PacketTimeline& t) {
            if (pcapng) pcapng->timeline(t);
            output->timeline(t);
        };
    }
    ReplaySession session(std::move(sinks));
    // How timelines are written, for the output and the pcapng file's comments alike (which never use colour).
    TextStyle style{options.colour, header.realtime_offset_ns};
    style.netns_name = [&session](uint32_t netns) { return session.netns_name(netns); };
    if (!options.pcapng_path.empty()) {
        if (header.snaplen == 0) // its header says so (older recordings carry no bytes either)
            throw FatalError(options.path + ": no packet bytes in this recording: it was made without --snaplen or "
                                            "--pcapng",
                             ErrorKind::failure);
        PcapngSection section;
        section.os = header.kernel_release.empty() ? std::string() : "Linux " + header.kernel_release;
        section.application = "wgbpf " + std::string(wgbpf_version()) + " (replay)";
        section.comment = "replayed from " + options.path + "; recorded by wgbpf " + header.wgbpf_version;
        if (const std::string command = command_of(header); !command.empty()) section.comment += ": " + command;
        auto file = PcapngFile::open(options.pcapng_path, section, style, header.snaplen, style.netns_name);
        if (!file) throw FatalError(file.error());
        pcapng = std::move(file.value());
    }
    output = std::make_unique<OutputWriter>(std::cout, options.json, style, [&](uint32_t netns, int ifindex) {
        const NetnsConfig* c = session.config(netns);
        return c ? c->link_name(ifindex) : session.link_name(ifindex);
    });

    ReplayOutcome outcome = session.run(reader);
    if (outcome.skipped_unknown)
        spdlog::warn("{} frames of kinds this wgbpf does not know were skipped (recorded by a newer wgbpf?)",
                     outcome.skipped_unknown);
    if (outcome.end && outcome.end->unrecordable)
        spdlog::warn("{} records were not recorded: layouts the recording wgbpf could not make address-free",
                     outcome.end->unrecordable);
    output->summary(module_summary(outcome, session.pipeline()), session.pipeline().decode_stats().rejected(),
                    outcome.end ? outcome.end->seconds : session.event_seconds(), nftrace_summary(session.pipeline()),
                    session.pipeline().lone_routes());
    if (WriteResult w = output->flush(); w.state == WriteState::failed)
        throw FatalError("cannot write the output: " + w.error);
    if (pcapng) {
        uint64_t lost_device = outcome.lost[ModuleId::device], lost_all = 0;
        for (ModuleId m : modules_by_name()) lost_all += outcome.lost[m];
        if (!pcapng->finish(lost_device, lost_all - lost_device, session.last_event_ns())) return exit_code::failure;
    }
    if (!outcome.problem.empty()) {
        spdlog::error("{}: {} (everything before it is shown above)", options.path, outcome.problem);
        return exit_code::failure;
    }
    return exit_code::ok;
}

} // namespace wgbpf
