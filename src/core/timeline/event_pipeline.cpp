#include "timeline/event_pipeline.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "timeline/timeline_builder.hpp"

namespace wgbpf {

// Sends each decoded event to the stage that understands it, counting per module.
struct EventPipeline::Dispatch {
    EventPipeline& p;
    void operator()(const RouteLookup& e) {
        ++p.events_[ModuleId::route];
        p.grouper_->add(e);
    }
    void operator()(const RuleResult& e) {
        ++p.events_[ModuleId::route];
        p.grouper_->add(e);
    }
    void operator()(const NfBracketEvent& e) {
        ++p.events_[ModuleId::netfilter];
        p.stepper_->add(e);
    }
    void operator()(const NfChainEvent& e) {
        ++p.events_[ModuleId::netfilter];
        p.stepper_->add(e);
    }
    void operator()(const DropEvent& e) {
        ++p.events_[ModuleId::drop];
        p.stepper_->add(e);
    }
    void operator()(const DeviceEvent& e) {
        ++p.events_[ModuleId::device];
        if (p.timelines_) p.timelines_->add(e); // devices only matter inside timelines
    }
    void operator()(const WireguardKernelEvent& e) {
        ++p.events_[ModuleId::wireguard];
        if (p.timelines_) p.timelines_->add(e);
    }
};

EventPipeline::EventPipeline(PipelineSources sources, PipelineSinks sinks)
    : sources_(std::move(sources)), sinks_(std::move(sinks)) {
    if (sinks_.timeline) {
        timelines_ = std::make_unique<TimelineBuilder>(
            [this](uint32_t netns) {
                return TimelineContext{sources_.config(netns),
                                       sources_.wireguard ? sources_.wireguard(netns) : std::vector<WgInterface>{}};
            },
            [this](PacketTimeline&& t) { completed_.push_back(std::move(t)); },
            TimelineLimits{.selective = sources_.selective});
    }
    grouper_ = std::make_unique<WalkGrouper>([this](uint32_t netns) { return sources_.config(netns); },
                                             [this](RouteDecision&& d) {
                                                 if (timelines_) timelines_->add(d);
                                                 else emit(std::move(d));
                                             });
    stepper_ = std::make_unique<NetfilterStepper>(
        [this](uint32_t netns) {
            const NetnsConfig* cfg = sources_.config(netns);
            return NetfilterContext{cfg ? &cfg->nft : nullptr, sources_.plan ? sources_.plan(netns) : nullptr};
        },
        [this](NetfilterStep&& s) {
            if (timelines_) timelines_->add(s);
            else emit(std::move(s));
        },
        [this](DropStep&& d) {
            if (timelines_) timelines_->add(d);
            else emit(std::move(d));
        },
        sources_.drop_reason, sources_.symbol);
}

EventPipeline::~EventPipeline() = default;

void EventPipeline::enable_nftrace(NftraceMergeLimits limits) {
    if (!merger_)
        merger_ = std::make_unique<NftraceMerger>([this](PipelineOutput&& o) { deliver(std::move(o)); }, limits);
}

void EventPipeline::trace(NftraceEvent event) {
    enable_nftrace();
    merger_->add(std::move(event));
}

const NftraceMergeStats* EventPipeline::nftrace_stats() const { return merger_ ? &merger_->stats() : nullptr; }

// With nftrace, outputs wait in the merger for their trace messages; without, they go out at once.
void EventPipeline::emit(PipelineOutput&& output) {
    if (merger_) merger_->hold(std::move(output));
    else deliver(std::move(output));
}

void EventPipeline::deliver(PipelineOutput&& output) {
    if (out_of_time_ && out_of_time_()) {
        ++not_shown_;
        return;
    }
    struct Deliver {
        PipelineSinks& sinks;
        void operator()(const RouteDecision& d) {
            if (sinks.route) sinks.route(d);
        }
        void operator()(const NetfilterStep& s) {
            if (sinks.netfilter) sinks.netfilter(s);
        }
        void operator()(const DropStep& d) {
            if (sinks.drop) sinks.drop(d);
        }
        void operator()(const PacketTimeline& t) {
            if (sinks.timeline) sinks.timeline(t);
        }
    };
    std::visit(Deliver{sinks_}, output);
}

void EventPipeline::release_completed() {
    for (PacketTimeline& t : completed_) emit(std::move(t));
    completed_.clear();
}

void EventPipeline::hold_completed() {
    if (completed_.size() < kMaxCompletedHeld) return;
    for (PacketTimeline& t : completed_) {
        t.gaps.push_back("sent out before the lost-event counters of its time were read (more than " +
                         std::to_string(kMaxCompletedHeld) +
                         " timelines completed at once): losses then are not marked on it");
        emit(std::move(t));
    }
    completed_.clear();
}

void EventPipeline::feed(std::span<const std::byte> record) {
    auto event = decoder_.decode(record);
    if (!event) {
        spdlog::debug("rejected record: {}", event.error());
        return;
    }
    latest_event_ns_ = std::max(latest_event_ns_, std::visit([](const auto& e) { return e.t_ns; }, event.value()));
    std::visit(Dispatch{*this}, event.value());
    if (!completed_.empty()) hold_completed();
}

// Routes and netfilter steps finish first, so that timelines get them before they complete. Timelines
// completed since the last flush go out only now, after the caller reported the events lost meanwhile.
void EventPipeline::flush(uint64_t now_ns) {
    grouper_->flush(now_ns);
    stepper_->flush(now_ns);
    if (timelines_) timelines_->flush(now_ns);
    release_completed();
    if (merger_) merger_->flush(now_ns);
}

void EventPipeline::finish(std::function<bool()> out_of_time) {
    out_of_time_ = std::move(out_of_time);
    grouper_->flush_all();
    stepper_->flush_all();
    if (timelines_) timelines_->flush_all();
    release_completed();
    if (merger_) merger_->finish();
    out_of_time_ = nullptr;
}

void EventPipeline::lost(ModuleId module, uint64_t count, uint64_t known_at_ns) {
    if (!timelines_ || !count) return;
    timelines_->lost(module, count, known_at_ns);
    for (PacketTimeline& t : completed_)
        t.gaps.push_back(fmt::format("{} {} events lost while it was in flight", count, name_of(module)));
}

uint64_t EventPipeline::lone_routes() const { return timelines_ ? timelines_->unattached_routes() : 0; }

} // namespace wgbpf
