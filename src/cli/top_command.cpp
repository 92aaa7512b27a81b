#include "top_command.hpp"

#include <fmt/format.h>
#include <unistd.h>

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
    }

    void add(const PacketTimeline& t) { table_.add(t); }

    void tick(uint64_t now_ns, uint64_t lost_events, bool final) {
        if (!start_ns_) {
            start_ns_ = last_ns_ = now_ns;
            next_ns_ = now_ns + interval_ns();
        }
        if (!final && now_ns < next_ns_) return;
        text_.elapsed_s = double(now_ns - start_ns_) / 1e9;
        text_.lost_events = lost_events;
        TopSnapshot s = table_.snapshot(now_ns, double(now_ns - last_ns_) / 1e9);
        last_ns_ = now_ns;
        next_ns_ = now_ns + interval_ns();
        if (options_.watch.json) {
            rapidjson::StringBuffer buffer;
            JsonWriter w(buffer);
            write_top_json(w, s, text_);
            std::cout.write(buffer.GetString(), std::streamsize(buffer.GetSize())) << '\n';
        } else {
            std::cout << (redraw_ && !final ? kClearScreen : "") << render_top_text(s, text_, style_)
                      << (redraw_ ? "" : "\n");
        }
        WriteResult w = flush_output(std::cout);
        if (w.state == WriteState::failed) throw FatalError("cannot write the output: " + w.error);
        if (w.state == WriteState::closed) reader_gone_ = true;
    }

    bool keep_going() const { return !reader_gone_; }

private:
    uint64_t interval_ns() const { return uint64_t(options_.interval_s * 1e9); }
    const TopOptions& options_;
    bool redraw_;
    TopTextOptions text_;
    TextStyle style_;
    PathTable table_;
    uint64_t start_ns_ = 0, last_ns_ = 0, next_ns_ = 0;
    bool reader_gone_ = false;
};

} // namespace

int run_top(const TopOptions& options) {
    TopScreen screen(options);
    WatchHooks hooks;
    hooks.timeline_sink = [&](const PacketTimeline& t) { screen.add(t); };
    hooks.tick = [&](uint64_t now, uint64_t lost, bool final) { screen.tick(now, lost, final); };
    hooks.keep_going = [&] { return screen.keep_going(); };
    return run_watch(options.watch, hooks);
}

} // namespace wgbpf
