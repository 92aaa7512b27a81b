#include "compare_command.hpp"
#include "render/terminal_text.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>
#include <utility>

#include "common/unique_fd.hpp"
#include "common/exit_codes.hpp"
#include "common/result.hpp"
#include "config/netns_config.hpp"
#include "nftrace/trace_matcher.hpp"
#include "record/replay.hpp"
#include "record/replay_session.hpp"
#include "render/compare_render.hpp"
#include "render/output_writer.hpp"

namespace wgbpf {
namespace {

constexpr size_t kWarningsShown = 10;
constexpr size_t kReadPiece = 64 * 1024;

// The comparison as it goes: each chunk on stdout as soon as it is compared, the summary at the end.
class CompareOutput {
public:
    CompareOutput(bool json, std::function<std::string(int)> interface_name, CompareWindow window = {})
        : json_(json), stream_(
                           [this](const Comparison& c) {
                               write(json_ ? render_compare_blocks_json(c) : render_compare_blocks_text(c));
                           },
                           std::move(interface_name), window) {}
    CompareStream& stream() { return stream_; }
    void finish() {
        stream_.finish();
        write(json_ ? compare_json_line(compare_totals_json(stream_.totals()))
                    : render_compare_summary_text(stream_.totals()));
    }

private:
    void write(const std::string& text) {
        std::cout << (json_ ? text : terminal_safe(text));
        if (WriteResult w = flush_output(std::cout); w.state == WriteState::failed)
            throw FatalError("cannot write the output: " + w.error);
    }
    bool json_;
    CompareStream stream_;
};

// How messages name the trace: its path, or stdin for `-`.
std::string trace_name(const std::string& path) { return path == "-" ? "stdin" : path; }

// The trace's skipped lines said (a garbled file should not bury the comparison), or why nothing could be read.
void report(const NftraceTextStream& traces, Result<void> finished, const std::string& path) {
    const std::string name = trace_name(path);
    if (!finished) throw FatalError(finished.error());
    const NftraceTextStats& st = traces.stats();
    for (size_t i = 0; i < st.warnings.size() && i < kWarningsShown; ++i)
        spdlog::warn("{}: {} (skipped)", name, st.warnings[i]);
    if (st.warning_count > kWarningsShown)
        spdlog::warn("... and {} more lines skipped", st.warning_count - kWarningsShown);
    spdlog::info("{}: {} traces from {} lines ({} not part of a trace)", name, st.traces, st.lines, st.ignored_lines);
}

// The saved trace, opened and checked before anything else is read; "-" is stdin (not ours to close).
struct TraceInput {
    UniqueFd owned;
    int fd = STDIN_FILENO;
};

TraceInput open_trace(const std::string& path) {
    if (path == "-") return {};
    struct stat st {};
    if (stat(path.c_str(), &st) != 0 && errno == ENOENT)
        throw FatalError("nftrace file " + path + " not found", ErrorKind::not_found);
    if (S_ISDIR(st.st_mode)) throw FatalError(path + " is a directory, not `nft monitor trace` output");
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) throw FatalError(path + ": cannot open: " + std::strerror(errno));
    const int raw = fd.get();
    return {std::move(fd), raw};
}

// A piece of the trace text; false at its end.
bool read_piece(int fd, NftraceTextStream& traces, const std::string& path) {
    char buf[kReadPiece];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw FatalError(trace_name(path) + ": cannot read: " + std::strerror(errno));
        if (n == 0) return false;
        traces.feed(std::string_view(buf, size_t(n)));
        return true;
    }
}

// Reads stdin on a thread of its own while the watch runs, and hands each complete trace over (bounded: when
// the watch falls behind, the oldest waiting traces are dropped and counted); stops early when asked (the
// watch ended first: --duration or Ctrl-C while nft still writes).
class StdinTraces {
public:
    explicit StdinTraces(size_t max_waiting)
        : max_waiting_(max_waiting), traces_([this](NftraceTrace&& t) { handover(std::move(t)); }, "stdin"),
          thread_([this] { run(); }) {}
    ~StdinTraces() { stop(); }
    bool ended() const { return ended_; }
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
        stopped_ = true; // from here on the caller takes every trace: none is dropped
    }
    // The traces complete so far (after stop(): all of them, the unfinished ones too).
    std::deque<NftraceTrace> take() {
        std::lock_guard<std::mutex> lock(mutex_);
        return std::exchange(waiting_, {});
    }
    Result<void> finish() { return traces_.finish(); } // after stop()
    const NftraceTextStream& text() const { return traces_; }
    size_t dropped() const { return dropped_; }

private:
    void handover(NftraceTrace&& t) {
        std::lock_guard<std::mutex> lock(mutex_);
        waiting_.push_back(std::move(t));
        if (!stopped_ && waiting_.size() > max_waiting_) {
            waiting_.pop_front();
            ++dropped_;
        }
    }
    void run() {
        while (!stop_) {
            pollfd p{STDIN_FILENO, POLLIN, 0};
            int r = ::poll(&p, 1, 100);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) break;
            if (r == 0) continue;
            try {
                if (!read_piece(STDIN_FILENO, traces_, "-")) break; // nft exited: compare what came
            } catch (const FatalError& e) {
                spdlog::warn("{}", e.what());
                break;
            }
        }
        ended_ = true;
    }

    size_t max_waiting_;
    std::atomic<bool> stop_{false}, ended_{false}, stopped_{false};
    std::mutex mutex_;
    std::deque<NftraceTrace> waiting_;
    std::atomic<size_t> dropped_{0};
    NftraceTextStream traces_; // used by the thread until stop(), then by the caller
    std::thread thread_;       // last: starts once everything it uses exists
};

// `nft monitor trace | wgbpf compare --nftrace -`: watch while the trace arrives, comparing as both come.
int run_live_compare(const CompareOptions& options) {
    if (options.nftrace_path != "-")
        throw FatalError("without a RECORDING the trace is read live from stdin: `nft monitor trace | wgbpf compare "
                         "--nftrace -` (or give the RECORDING made with `wgbpf watch -w` beside the saved trace)",
                         ErrorKind::usage);
    NetnsConfig watched; // its links, as the watch reads them
    CompareOutput output(options.json, [&](int ifindex) {
        const Link* l = watched.link_by_index(ifindex);
        return l ? l->name : std::string();
    });
    StdinTraces input(2 * output.stream().window().chunk);
    auto take_traces = [&] {
        for (NftraceTrace& t : input.take()) output.stream().add_trace(std::move(t));
    };
    WatchOptions watch = options.watch;
    watch.json = false; // stdout carries the comparison only; the watch's own lines go to stderr
    WatchHooks hooks;
    hooks.timeline_sink = [&](const PacketTimeline& t) {
        take_traces(); // the traces that came meanwhile first: they may be this timeline's
        output.stream().add_timeline(t);
    };
    hooks.keep_going = [&] {
        take_traces(); // also while no timeline comes (a trace rule wider than the watch)
        return !input.ended();
    };
    hooks.config_sink = [&](const NetnsConfig& c) { watched.links = c.links; };
    int status = run_watch(watch, hooks);
    input.stop();
    Result<void> finished = input.finish();
    take_traces();
    if (input.dropped())
        spdlog::warn("stdin: {} traces not compared: they came faster than the comparison went", input.dropped());
    report(input.text(), std::move(finished), "-");
    output.finish();
    return status;
}

} // namespace

int run_compare(const CompareOptions& options) {
    if (options.recording.empty()) return run_live_compare(options);
    const TraceInput input = open_trace(options.nftrace_path);
    const int fd = input.fd;
    RecordingReader reader = open_recording(options.recording);

    std::unique_ptr<ReplaySession> session;
    CompareOutput output(options.json,
                         [&](int ifindex) { return session ? session->link_name(ifindex) : std::string(); });
    NftraceTextStream traces([&](NftraceTrace&& t) { output.stream().add_trace(std::move(t)); },
                             trace_name(options.nftrace_path));
    bool text_left = true;
    // The trace is read as far ahead of the replay as the comparison's window reaches: both stay bounded.
    auto read_ahead = [&] {
        while (text_left && output.stream().wants_traces()) text_left = read_piece(fd, traces, options.nftrace_path);
    };
    PipelineSinks sinks;
    sinks.timeline = [&](const PacketTimeline& t) {
        read_ahead();
        output.stream().add_timeline(t);
    };
    session = std::make_unique<ReplaySession>(std::move(sinks));
    ReplayOutcome outcome = session->run(reader);
    while (text_left) text_left = read_piece(fd, traces, options.nftrace_path);
    report(traces, traces.finish(), options.nftrace_path);
    output.finish();
    if (!outcome.problem.empty()) {
        spdlog::error("{}: {} (compared with the packets before it)", options.recording, outcome.problem);
        return exit_code::failure;
    }
    return exit_code::ok;
}

} // namespace wgbpf
