#include "wgbpf/cli/compare_command.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>

#include "wgbpf/cli/exit_codes.hpp"
#include "wgbpf/common/result.hpp"
#include "wgbpf/nftrace/trace_matcher.hpp"
#include "wgbpf/record/replay.hpp"
#include "wgbpf/record/replay_session.hpp"
#include "wgbpf/render/compare_render.hpp"

namespace wgbpf {
namespace {

constexpr size_t kWarningsShown = 10; // a garbled file should not bury the comparison

NftraceLog read_trace(const std::string& path) {
    Result<NftraceLog> log = Error{};
    if (path == "-") {
        log = parse_nftrace_text(std::cin, "stdin");
    } else {
        struct stat st {};
        if (stat(path.c_str(), &st) != 0 && errno == ENOENT)
            throw FatalError("nftrace file " + path + " not found", exit_code::not_found);
        if (S_ISDIR(st.st_mode)) throw FatalError(path + " is a directory, not `nft monitor trace` output");
        std::ifstream in(path, std::ios::binary);
        if (!in) throw FatalError(path + ": cannot open: " + std::strerror(errno));
        log = parse_nftrace_text(in, path);
    }
    if (!log) throw FatalError(log.error());
    for (size_t i = 0; i < log->warnings.size() && i < kWarningsShown; ++i)
        spdlog::warn("{}: {} (skipped)", path == "-" ? "stdin" : path, log->warnings[i]);
    if (log->warnings.size() > kWarningsShown)
        spdlog::warn("... and {} more lines skipped", log->warnings.size() - kWarningsShown);
    spdlog::info("{}: {} traces from {} lines ({} not part of a trace)", path == "-" ? "stdin" : path,
                 log->traces.size(), log->lines, log->ignored_lines);
    return std::move(log.value());
}

} // namespace

void print_comparison(std::ostream& out, const NftraceLog& log, const std::vector<PacketTimeline>& timelines,
                      const std::function<std::string(int)>& interface_name, bool json) {
    Comparison c = compare_traces(log, timelines, interface_name);
    out << (json ? render_compare_json(c) : render_compare_text(c));
}

int run_compare(const CompareOptions& options) {
    if (options.recording.empty())
        throw FatalError("compare needs a RECORDING for now: record with `wgbpf watch -w FILE` while `nft monitor trace` "
                         "runs, then `wgbpf compare --nftrace TRACE FILE` (live comparison is not there yet)",
                         exit_code::usage);
    NftraceLog log = read_trace(options.nftrace_path);
    RecordingReader reader = open_recording(options.recording);

    std::vector<PacketTimeline> timelines;
    PipelineSinks sinks;
    sinks.timeline = [&](const PacketTimeline& t) { timelines.push_back(t); };
    ReplaySession session(std::move(sinks));
    ReplayOutcome outcome = session.run(reader);
    print_comparison(std::cout, log, timelines, [&](int ifindex) { return session.link_name(ifindex); }, options.json);
    if (!outcome.problem.empty()) {
        spdlog::error("{}: {} (compared with the packets before it)", options.recording, outcome.problem);
        return exit_code::failure;
    }
    return exit_code::ok;
}

} // namespace wgbpf
