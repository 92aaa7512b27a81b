#include "top_command.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "common/exit_codes.hpp"
#include "common/result.hpp"
#include "render/output_writer.hpp"
#include "render/top_render.hpp"
#include "timeline/packet_timeline.hpp"
#include "top/path_table.hpp"

namespace wgbpf {

namespace {

constexpr size_t kTextRows = 20;
constexpr const char* kClearScreen = "\033[H\033[2J";

class TopScreen {
public:
    explicit TopScreen(const TopOptions& o)
        : options_(o), redraw_(!o.watch.json && isatty(STDOUT_FILENO)),
          text_{o.rows.value_or(o.watch.json ? 0 : kTextRows), o.examples} {
        style_.colour = o.watch.colour;
        text_.expression = o.watch.expression;
        text_.sample_every = o.watch.sample_every;
    }

    void add(const PacketTimeline& t) { table_.add(t); }

    void tick(uint64_t now_ns, uint64_t lost_events, bool final) {
        if (!start_ns_) {
            start_ns_ = last_ns_ = now_ns;
            next_ns_ = now_ns + interval_ns();
        }
        if (write_failed_ || (!final && now_ns < next_ns_)) return;
        text_.elapsed_s = double(now_ns - start_ns_) / 1e9;
        text_.lost_events = lost_events;
        // The last window may be a moment long and hold what was still in flight at the stop: rates over a whole
        // interval at least, so that they are not inflated.
        const uint64_t window = std::max(now_ns - last_ns_, final ? interval_ns() : uint64_t(1));
        TopSnapshot s = table_.snapshot(now_ns, double(window) / 1e9);
        last_ns_ = now_ns;
        next_ns_ = now_ns + interval_ns();
        if (options_.watch.json) {
            rapidjson::StringBuffer buffer;
            JsonWriter w(buffer);
            write_top_json(w, s, text_);
            std::cout.write(buffer.GetString(), std::streamsize(buffer.GetSize())) << '\n';
        } else {
            std::cout << (redraw_ ? kClearScreen : "") << render_top_text(s, text_, style_) << (redraw_ ? "" : "\n");
        }
        // Not written: the watch stops, and its end (which flushes stdout again) says so and fails.
        WriteResult w = flush_output(std::cout);
        if (w.state == WriteState::failed) write_failed_ = true;
        if (w.state != WriteState::ok) reader_gone_ = true;
    }

    bool keep_going() const { return !reader_gone_; }
    bool write_failed() const { return write_failed_; }

private:
    uint64_t interval_ns() const { return uint64_t(options_.interval_s * 1e9); }
    const TopOptions& options_;
    bool redraw_;
    TopTextOptions text_;
    TextStyle style_;
    PathTable table_;
    uint64_t start_ns_ = 0, last_ns_ = 0, next_ns_ = 0;
    bool reader_gone_ = false;
    bool write_failed_ = false;
};

} // namespace

int run_top(const TopOptions& options) {
    TopScreen screen(options);
    WatchHooks hooks;
    hooks.timeline_sink = [&](const PacketTimeline& t) { screen.add(t); };
    hooks.tick = [&](uint64_t now, uint64_t lost, bool final) { screen.tick(now, lost, final); };
    hooks.keep_going = [&] { return screen.keep_going(); };
    if (options.interval_s < 0.1) throw FatalError("--interval: at least 0.1 s", ErrorKind::usage);
    const int status = run_watch(options.watch, hooks);
    return screen.write_failed() ? exit_code::failure : status;
}

} // namespace wgbpf
