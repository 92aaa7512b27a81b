#include "render/output_writer.hpp"

#include <sstream>

#include "common/stderr_text.hpp"
#include "common/version.hpp"
#include "render/terminal_text.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iostream>
#include <cstring>

#include <fmt/format.h>

#include <iostream>

#include "render/netfilter_render.hpp"
#include "render/timeline_render.hpp"

namespace wgbpf {

OutputWriter::OutputWriter(std::ostream& out, bool json, TextStyle style, NetnsLinkName link_name)
    : out_(out), json_(json), style_(style), link_name_(std::move(link_name)), writer_(buffer_) {}

void OutputWriter::write(const nlohmann::json& j) {
    out_ << j.dump() << '\n' << std::flush;
    note_failure();
}

void OutputWriter::note_failure() {
    if (!out_ && !first_errno_) first_errno_ = errno ? errno : EIO;
}

JsonWriter& OutputWriter::line() {
    buffer_.Clear();
    writer_.Reset(buffer_);
    return writer_;
}

void OutputWriter::end_line() {
    out_.write(buffer_.GetString(), static_cast<std::streamsize>(buffer_.GetSize()));
    out_ << '\n';
    note_failure();
}

WriteResult flush_output(std::ostream& out) {
    errno = 0;
    out.flush();
    if (out) return {};
    int err = errno;
    // std::cout writes through C's stdout: a write that failed earlier left its bytes there, and flushing
    // them again tells why.
    if (!err && &out == &std::cout && std::fflush(stdout) != 0) err = errno;
    if (!err && &out == &std::cout && reader_gone(STDOUT_FILENO)) err = EPIPE; // it failed earlier, on a closed pipe
    if (err == EPIPE) return {WriteState::closed, std::strerror(err), err};
    if (err == EINTR) // only wgbpf's own stop signals interrupt a write: one that was still blocked then
        return {WriteState::failed, "stdout was not being read when wgbpf stopped", err};
    return {WriteState::failed, err ? std::strerror(err) : std::string("write error"), err};
}

bool reader_gone(int fd) {
    pollfd p{fd, 0, 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLERR | POLLHUP));
}

WriteResult OutputWriter::flush() {
    WriteResult r = flush_output(out_);
    if (r.state == WriteState::failed && first_errno_) // the first failure says why
        r = first_errno_ == EPIPE ? WriteResult{WriteState::closed, std::strerror(EPIPE), EPIPE}
                                  : WriteResult{WriteState::failed, std::strerror(first_errno_), first_errno_};
    return r;
}

void OutputWriter::route(const RouteDecision& d) {
    if (full()) return;
    ++records_;
    if (json_) {
        write_route_json(line(), d);
        end_line();
    } else {
        out_ << terminal_safe(render_route_text(d, style_));
        note_failure();
    }
}

void OutputWriter::netfilter(const NetfilterStep& s) {
    if (full()) return;
    ++records_;
    if (json_) {
        write_netfilter_json(line(), s, in_netns(s.netns));
        end_line();
    } else {
        out_ << terminal_safe(render_netfilter_text(s, style_));
        note_failure();
    }
}

void OutputWriter::drop(const DropStep& d) {
    if (full()) return;
    ++records_;
    if (json_) {
        write_drop_json(line(), d, in_netns(d.netns));
        end_line();
    } else {
        out_ << terminal_safe(render_drop_text(d, style_));
        note_failure();
    }
}

void OutputWriter::timeline(const PacketTimeline& t) {
    if (full()) return;
    ++records_;
    if (json_) {
        write_timeline_json(line(), t, in_netns(t.netns));
        end_line();
    } else {
        out_ << terminal_safe(render_timeline_text(t, style_));
        note_failure();
    }
}

void OutputWriter::ready(const std::vector<ModuleStatus>& modules,
                         const std::vector<std::pair<uint32_t, std::string>>& namespaces) {
    write_stderr_text("wgbpf: ready: attached, watching (Ctrl-C to stop)\n");
    if (!json_) return;
    nlohmann::json j{{"kind", "ready"},
                     {"version", wgbpf_version()},
                     {"netns", namespaces.empty() ? 0 : namespaces.front().first},
                     {"modules", modules_json(modules)}};
    if (namespaces.size() > 1) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& [inode, name] : namespaces) list.push_back({{"netns", inode}, {"name", name}});
        j["namespaces"] = std::move(list);
    }
    write(j);
}

LinkName OutputWriter::in_netns(uint32_t netns) const {
    if (!link_name_) return {};
    return [this, netns](int ifindex) { return link_name_(netns, ifindex); };
}

void OutputWriter::summary(const std::vector<ModuleStatus>& modules, uint64_t decoder_rejected, double seconds,
                           const std::optional<NftraceSummary>& nftrace, uint64_t lone_routes, uint64_t not_shown,
                           std::optional<uint64_t> undecided) {
    out_.flush(); // the records before the summary on stderr
    note_failure();
    uint64_t lost = 0;
    std::ostringstream err; // all at once: one log object per line with --log-format json
    err << fmt::format("wgbpf: {} records in {:.1f} s\n", records_, seconds);
    for (const ModuleStatus& m : modules) {
        if (m.running)
            err << fmt::format("  module {:<10} {}: {} events, {} lost\n", name_of(m.module),
                                     terminal_safe(m.flavour), m.events, m.lost);
        else err << fmt::format("  module {:<10} not running\n", name_of(m.module));
        for (const std::string& note : m.notes) err << "    " << terminal_safe(note) << "\n";
        lost += m.lost;
    }
    if (lone_routes)
        err << fmt::format("  {} route lookups took no packet (`ip route get`, connect(), a source address "
                                 "choice): not shown as timelines; --steps shows every lookup\n",
                                 lone_routes);
    if (not_shown)
        err << fmt::format("  {} records still in flight when the watch was stopped were not shown (a stop is "
                                 "acted on within a second)\n",
                                 not_shown);
    if (undecided && *undecided)
        err << fmt::format("  the filter expression could not decide {} times (bytes past the first 128 from the "
                                 "network header, in page fragments, or a length the header does not give); a packet "
                                 "is asked again at each hook (docs/filters.md)\n",
                                 *undecided);
    if (decoder_rejected) err << fmt::format("  decoder: {} records rejected (see -v)\n", decoder_rejected);
    if (lost)
        err << "  events were lost (ring buffer full): steps above may be missing; raise --ringbuf-kib or "
                     "narrow the filter\n";
    if (nftrace && !nftrace->off_reason.empty())
        err << "  nftrace: off: " << terminal_safe(nftrace->off_reason) << "\n";
    if (nftrace && nftrace->off_reason.empty()) {
        err << fmt::format("  nftrace: {} trace events, {} merged into netfilter steps, {} unmatched",
                                 nftrace->received, nftrace->merged, nftrace->unmatched);
        if (nftrace->dropped) err << fmt::format(" ({} dropped: too many waiting)", nftrace->dropped);
        if (nftrace->overruns)
            err << fmt::format(", trace messages lost {} times (socket buffer full)", nftrace->overruns);
        err << "\n";
    }
    write_stderr_text(err.str());
    if (!json_) return;
    nlohmann::json j{{"kind", "summary"},
                     {"records", records_},
                     {"seconds", seconds},
                     {"modules", modules_json(modules)},
                     {"lost", lost},
                     {"decoder_rejected", decoder_rejected},
                     {"lone_routes", lone_routes},
                     {"not_shown", not_shown}};
    if (undecided) j["filter_undecided"] = *undecided;
    if (nftrace)
        j["nftrace"] = {{"running", nftrace->off_reason.empty()}, {"off_reason", nftrace->off_reason},
                        {"received", nftrace->received},          {"merged", nftrace->merged},
                        {"unmatched", nftrace->unmatched},        {"dropped", nftrace->dropped},
                        {"overruns", nftrace->overruns}};
    write(j);
}

} // namespace wgbpf
