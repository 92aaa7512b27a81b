#include "record/replay_session.hpp"

#include <fmt/format.h>

#include <cstring>

#include "wgbpf/abi/events.h"

namespace wgbpf {
namespace {

// Live watching flushes after each poll (at most 100 ms); replay has only the events' own clock and
// flushes whenever it moved on by this much.
constexpr uint64_t kFlushEveryNs = 10'000'000;

} // namespace

ReplaySession::ReplaySession(PipelineSinks sinks)
    : pipeline_(std::make_unique<EventPipeline>(sources(), std::move(sinks))) {
    // Always: a recording made with --nftrace holds trace frames, to be merged as watch merged them.
    pipeline_->enable_nftrace();
}

ReplaySession::~ReplaySession() = default;

PipelineSources ReplaySession::sources() {
    PipelineSources s;
    s.config = [this](uint32_t netns) -> const NetnsConfig* {
        auto it = configs_.find(netns);
        return it == configs_.end() ? nullptr : &it->second;
    };
    s.plan = [this](uint32_t netns) -> const BracketPlan* {
        auto it = plans_.find(netns);
        return it == plans_.end() ? nullptr : &it->second;
    };
    s.wireguard = [this](uint32_t netns) {
        auto it = wireguard_.find(netns);
        return it == wireguard_.end() ? std::vector<WgInterface>{} : it->second;
    };
    s.drop_reason = [this](uint32_t reason) {
        auto it = names_.drop_reasons.find(reason);
        return it == names_.drop_reasons.end() ? "reason " + std::to_string(reason) : it->second;
    };
    // Recorded drop records carry an index into the symbol table where the kernel address was.
    s.symbol = [this](uint64_t index) {
        auto it = index <= UINT32_MAX ? names_.symbols.find(uint32_t(index)) : names_.symbols.end();
        return it == names_.symbols.end() ? std::string("unknown") : it->second;
    };
    return s;
}

std::string ReplaySession::link_name(int ifindex) const {
    if (!first_netns_) return "";
    auto it = configs_.find(*first_netns_);
    return it == configs_.end() ? "" : it->second.link_name(ifindex);
}

ReplayOutcome ReplaySession::run(RecordingReader& reader) {
    ReplayOutcome out;
    out.frames = 1; // the header, read by RecordingReader::open
    while (true) {
        auto frame = reader.next();
        if (!frame) {
            out.problem = frame.error();
            break;
        }
        if (!*frame) {
            if (!out.end)
                out.problem = "incomplete: the recording ends at byte " + std::to_string(reader.offset()) +
                              " without its end frame (the recording wgbpf was stopped before it could finish it)";
            break;
        }
        if (auto applied = apply(**frame, out); !applied) {
            out.problem = "corrupted: frame at byte " + std::to_string((*frame)->offset) + ": " + applied.error();
            break;
        }
        ++out.frames;
    }
    out.skipped_unknown = reader.skipped_unknown();
    pipeline_->finish();
    return out;
}

std::string ReplaySession::netns_name(uint32_t netns) const {
    auto it = names_of_netns_.find(netns);
    return it == names_of_netns_.end() ? std::string() : it->second;
}

const NetnsConfig* ReplaySession::config(uint32_t netns) const {
    auto it = configs_.find(netns);
    return it == configs_.end() ? nullptr : &it->second;
}

Result<void> ReplaySession::apply(const RecordingFrame& frame, ReplayOutcome& out) {
    switch (frame.kind) {
    case FrameKind::event:
        ++out.events;
        feed_event(frame.payload);
        return {};
    case FrameKind::config: {
        auto c = decode_config_frame(frame.payload);
        if (!c) return c;
        if (!first_netns_) first_netns_ = c->netns;
        if (c->route_changes) {
            auto before = configs_.find(c->netns);
            if (before == configs_.end())
                return Error{fmt::format("config frame: route changes for namespace {} before any configuration of it",
                                         c->netns)};
            c->config.routes = before->second.routes; // a copy: a bad frame leaves the last good routes in place
            if (!c->config.apply(*c->route_changes))
                return Error{fmt::format("config frame: a removed route of namespace {} was not there", c->netns)};
        }
        configs_[c->netns] = std::move(c->config); // in place: what the pipeline holds stays valid
        wireguard_[c->netns] = std::move(c->wireguard);
        if (!c->name.empty()) names_of_netns_[c->netns] = std::move(c->name);
        return {};
    }
    case FrameKind::plan: {
        auto p = decode_plan_frame(frame.payload);
        if (!p) return p;
        plans_[p->netns] = std::move(p->plan);
        return {};
    }
    case FrameKind::names: {
        auto n = decode_names_frame(frame.payload);
        if (!n) return n;
        for (auto& [k, v] : n->drop_reasons) names_.drop_reasons[k] = std::move(v);
        for (auto& [k, v] : n->symbols) names_.symbols[k] = std::move(v);
        return {};
    }
    case FrameKind::lost: {
        auto l = decode_lost_frame(frame.payload);
        if (!l) return l;
        out.lost[l->module] += l->count;
        pipeline_->lost(l->module, l->count, l->known_at_ns);
        return {};
    }
    case FrameKind::end: {
        auto e = decode_end_frame(frame.payload);
        if (!e) return e;
        out.end = std::move(e.value());
        return {};
    }
    case FrameKind::flush: {
        if (frame.payload.size() != 8)
            return Error{"a flush frame of " + std::to_string(frame.payload.size()) + " bytes"};
        uint64_t now = get_le32(frame.payload.data()) | uint64_t(get_le32(frame.payload.data() + 4)) << 32;
        recorded_flushes_ = true;
        pipeline_->flush(now);
        return {};
    }
    case FrameKind::nftrace: {
        auto e = decode_nftrace_frame(frame.payload);
        if (!e) return e;
        pipeline_->trace(std::move(e.value()));
        return {};
    }
    case FrameKind::header: return {}; // a second header (concatenated recordings): the first one describes the file
    }
    return {};
}

void ReplaySession::feed_event(const std::vector<std::byte>& record) {
    pipeline_->feed(record);
    if (record.size() < sizeof(wgbpf_event_header)) return; // the decoder counted it
    wgbpf_event_header h;
    std::memcpy(&h, record.data(), sizeof h);
    if (first_ns_ == 0) first_ns_ = h.t_ns;
    if (h.t_ns <= now_ns_) return;
    now_ns_ = h.t_ns;
    if (recorded_flushes_) return; // flushes come from the recording
    if (flushed_ns_ == 0) flushed_ns_ = now_ns_;
    if (now_ns_ - flushed_ns_ >= kFlushEveryNs) {
        pipeline_->flush(now_ns_);
        flushed_ns_ = now_ns_;
    }
}

std::vector<WgInterface> ReplaySession::wireguard(uint32_t netns) const {
    auto it = wireguard_.find(netns);
    return it == wireguard_.end() ? std::vector<WgInterface>{} : it->second;
}

} // namespace wgbpf
