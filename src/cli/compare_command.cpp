#include "wgbpf/cli/compare_command.hpp"
#include "wgbpf/render/terminal_text.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "wgbpf/cli/exit_codes.hpp"
#include "wgbpf/common/result.hpp"
#include "wgbpf/config/netns_config.hpp"
#include "wgbpf/nftrace/trace_matcher.hpp"
#include "wgbpf/record/replay.hpp"
#include "wgbpf/record/replay_session.hpp"
#include "wgbpf/render/compare_render.hpp"

namespace wgbpf {
namespace {

constexpr size_t kWarningsShown = 10;

// The parsed trace, its skipped lines said (a garbled file should not bury the comparison).
NftraceLog checked(Result<NftraceLog> log, const std::string& path) {
    const std::string name = path == "-" ? "stdin" : path;
    if (!log) throw FatalError(log.error());
    for (size_t i = 0; i < log->warnings.size() && i < kWarningsShown; ++i)
        spdlog::warn("{}: {} (skipped)", name, log->warnings[i]);
    if (log->warnings.size() > kWarningsShown)
        spdlog::warn("... and {} more lines skipped", log->warnings.size() - kWarningsShown);
    spdlog::info("{}: {} traces from {} lines ({} not part of a trace)", name, log->traces.size(), log->lines,
                 log->ignored_lines);
    return std::move(log.value());
}

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
    return checked(std::move(log), path);
}

// Reads stdin to its end on a thread of its own while the watch runs; stops early when asked (the watch
// ended first: --duration or Ctrl-C while nft still writes).
class StdinCollector {
public:
    StdinCollector() : thread_([this] { run(); }) {}
    ~StdinCollector() { stop(); }
    bool ended() const { return ended_; }
    std::string stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
        return text_;
    }

private:
    void run() {
        char buf[65536];
        while (!stop_) {
            pollfd p{STDIN_FILENO, POLLIN, 0};
            int r = ::poll(&p, 1, 100);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) break;
            if (r == 0) continue;
            ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break; // end of input (nft exited) or an error: compare what came
            text_.append(buf, size_t(n));
        }
        ended_ = true;
    }

    std::atomic<bool> stop_{false}, ended_{false};
    std::string text_;
    std::thread thread_;
};

// `nft monitor trace | wgbpf compare --nftrace -`: watch while the trace arrives, then compare.
int run_live_compare(const CompareOptions& options) {
    if (options.nftrace_path != "-")
        throw FatalError("without a RECORDING the trace is read live from stdin: `nft monitor trace | wgbpf compare "
                         "--nftrace -` (or give the RECORDING made with `wgbpf watch -w` beside the saved trace)",
                         exit_code::usage);
    std::vector<PacketTimeline> timelines;
    NetnsConfig config;
    StdinCollector input;
    WatchOptions watch = options.watch;
    watch.json = false; // stdout carries the comparison only; the watch's own lines go to stderr
    watch.timeline_sink = [&](const PacketTimeline& t) { timelines.push_back(t); };
    watch.keep_going = [&] { return !input.ended(); };
    watch.config_sink = [&](const NetnsConfig& c) { config = c; };
    int status = run_watch(watch);
    std::istringstream text(input.stop());
    NftraceLog log = checked(parse_nftrace_text(text, "stdin"), "-");
    print_comparison(std::cout, log, timelines, [&](int ifindex) { return config.link_name(ifindex); }, options.json);
    return status;
}

} // namespace

void print_comparison(std::ostream& out, const NftraceLog& log, const std::vector<PacketTimeline>& timelines,
                      const std::function<std::string(int)>& interface_name, bool json) {
    Comparison c = compare_traces(log, timelines, interface_name);
    out << (json ? render_compare_json(c) : terminal_safe(render_compare_text(c)));
}

int run_compare(const CompareOptions& options) {
    if (options.recording.empty()) return run_live_compare(options);
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
