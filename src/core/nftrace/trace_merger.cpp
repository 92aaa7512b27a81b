#include "nftrace/trace_merger.hpp"

#include <algorithm>
#include <tuple>

namespace wgbpf {
namespace {

// Verdicts that end the packet's walk through a base chain (and the chains it jumped to).
bool terminal(const std::string& verdict) {
    return verdict == "accept" || verdict == "drop" || verdict == "queue" || verdict == "stolen" || verdict == "repeat";
}

uint64_t output_time(const PipelineOutput& output) {
    struct Time {
        uint64_t operator()(const RouteDecision& d) const { return d.t_ns; }
        uint64_t operator()(const NetfilterStep& s) const { return s.t_ns; }
        uint64_t operator()(const DropStep& d) const { return d.t_ns; }
        uint64_t operator()(const PacketTimeline& t) const { return t.steps.empty() ? 0 : step_time(t.steps.back()); }
    };
    return std::visit(Time{}, output);
}

std::string fmt_chain(const std::string& family, const std::string& table, const std::string& chain) {
    return family + " " + table + " " + chain;
}

// "inet filter output" -> its three words; false when it is not three words.
bool split_chain(const std::string& qualified, std::string& family, std::string& table, std::string& chain) {
    size_t a = qualified.find(' ');
    size_t b = a == std::string::npos ? a : qualified.find(' ', a + 1);
    if (b == std::string::npos) return false;
    family = qualified.substr(0, a);
    table = qualified.substr(a + 1, b - a - 1);
    chain = qualified.substr(b + 1);
    return true;
}

// The same headers: the same packet seen in another chain (interface names differ from hook to hook).
bool same_headers(const NftracePacket& a, const NftracePacket& b) {
    return a.family == b.family && a.saddr == b.saddr && a.daddr == b.daddr && a.ip_id == b.ip_id &&
           a.length == b.length && a.l4proto == b.l4proto && a.sport == b.sport && a.dport == b.dport &&
           a.icmp_type == b.icmp_type && a.icmp_code == b.icmp_code && a.icmp_id == b.icmp_id &&
           a.icmp_sequence == b.icmp_sequence;
}

} // namespace

NftraceMerger::NftraceMerger(Release release, NftraceMergeLimits limits)
    : release_(std::move(release)), limits_(limits) {}

void NftraceMerger::add(NftraceEvent event) {
    ++stats_.received;
    // Each chain's first event carries the packet: headers other than the current trace's, or a pause, mean
    // another packet under the same id.
    TraceName name{event.family, event.table, event.trace_id};
    auto latest = latest_.find(name);
    TableTrace* current = latest == latest_.end() ? nullptr : &traces_.at(latest->second);
    if (current && event.packet && current->packet &&
        (!same_headers(*event.packet, *current->packet) || event.t_ns > current->last_ns + limits_.hold_ns))
        current = nullptr;
    if (!current) {
        Key key{event.family, event.table, event.trace_id, ++serial_};
        current = &traces_[key];
        current->first_ns = event.t_ns;
        latest_[name] = key;
        trace_order_.push_back(key);
    }
    current->last_ns = std::max(current->last_ns, event.t_ns);
    if (!current->packet && event.packet) {
        current->packet = event.packet;
        index(latest_[name], *current->packet);
    }
    current->events.push_back(std::move(event));
    current->used.push_back(false);
    while (traces_.size() > limits_.max_traces && !trace_order_.empty()) {
        auto oldest = traces_.find(trace_order_.front());
        trace_order_.pop_front();
        if (oldest == traces_.end()) continue; // already forgotten
        stats_.dropped += std::count(oldest->second.used.begin(), oldest->second.used.end(), false);
        forget(oldest);
    }
}

uint64_t NftraceMerger::bucket(const std::string& family, const std::string& table, uint64_t packet_key) {
    uint64_t h = std::hash<std::string>{}(family)*31 + std::hash<std::string>{}(table);
    return h * 0x9e3779b97f4a7c15ull ^ packet_key;
}

void NftraceMerger::index(const Key& key, const NftracePacket& packet) {
    if (std::optional<uint64_t> k = packet_index_key(packet))
        by_packet_.emplace(bucket(std::get<0>(key), std::get<1>(key), *k), key);
    else unindexed_.insert(key);
}

void NftraceMerger::forget(std::map<Key, TableTrace>::iterator it) {
    stats_.unmatched += std::count(it->second.used.begin(), it->second.used.end(), false);
    if (const auto& packet = it->second.packet) {
        if (std::optional<uint64_t> k = packet_index_key(*packet)) {
            auto [from, to] = by_packet_.equal_range(bucket(std::get<0>(it->first), std::get<1>(it->first), *k));
            for (auto b = from; b != to; ++b)
                if (b->second == it->first) {
                    by_packet_.erase(b);
                    break;
                }
        } else {
            unindexed_.erase(it->first);
        }
    }
    const auto& [family, table, id, serial] = it->first;
    if (auto latest = latest_.find(TraceName{family, table, id});
        latest != latest_.end() && latest->second == it->first)
        latest_.erase(latest);
    traces_.erase(it);
}

void NftraceMerger::hold(PipelineOutput output) {
    uint64_t release_ns = std::max(now_ns_, output_time(output)) + limits_.hold_ns;
    held_.push_back(Held{release_ns, std::move(output)});
    while (held_.size() > limits_.max_held) {
        ++stats_.released_early;
        release_front();
    }
}

void NftraceMerger::release_front() {
    Held h = std::move(held_.front());
    held_.pop_front();
    merge(h.output);
    release_(std::move(h.output));
}

void NftraceMerger::flush(uint64_t now_ns) {
    now_ns_ = std::max(now_ns_, now_ns);
    while (!held_.empty() && held_.front().release_ns <= now_ns_) release_front();
    // A trace no held or future step can take any more: read after every step it could belong to.
    const uint64_t too_old = limits_.trace_window_ns + 2 * limits_.hold_ns;
    for (auto it = traces_.begin(); it != traces_.end();) {
        auto next = std::next(it);
        if (it->second.last_ns + too_old < now_ns_) forget(it);
        it = next;
    }
    while (!trace_order_.empty() && !traces_.count(trace_order_.front())) trace_order_.pop_front();
}

void NftraceMerger::finish() {
    while (!held_.empty()) release_front();
    while (!traces_.empty()) forget(traces_.begin());
    trace_order_.clear();
    latest_.clear();
    by_packet_.clear();
    unindexed_.clear();
}

void NftraceMerger::merge(PipelineOutput& output) {
    if (traces_.empty()) return;
    if (auto* step = std::get_if<NetfilterStep>(&output)) merge(*step);
    if (auto* timeline = std::get_if<PacketTimeline>(&output))
        for (TimelineStep& s : timeline->steps)
            if (auto* step = std::get_if<NetfilterStep>(&s)) merge(*step);
}

void NftraceMerger::merge(NetfilterStep& step) {
    if (step.family.empty() || step.trace_id) return;
    attach(step, step.family, step.table, step.chain, true);
    // A bracketed span: the other chains in it ran on the packet too.
    for (const std::string& other : step.shared_with) {
        std::string family, table, chain;
        if (split_chain(other, family, table, chain)) attach(step, family, table, chain, false);
    }
}

bool NftraceMerger::attach(NetfilterStep& step, const std::string& family, const std::string& table,
                           const std::string& chain, bool own_chain) {
    // The earliest trace of this packet that reached this chain within the window and is not taken yet
    // (ties: the one that came first), among the traces indexed under the step's packet and the unindexed.
    TableTrace* best = nullptr;
    const Key* best_key = nullptr;
    size_t best_start = 0;
    auto consider = [&](const Key& key) {
        auto it = traces_.find(key);
        if (it == traces_.end() || std::get<0>(key) != family || std::get<1>(key) != table) return;
        TableTrace& t = it->second;
        if (!t.packet || !same_packet(*t.packet, step.pkt)) return;
        if (t.first_ns + limits_.clock_slack_ns < step.t_ns || t.first_ns > step.t_ns + limits_.trace_window_ns) return;
        if (best && std::tie(best->first_ns, *best_key) <= std::tie(t.first_ns, it->first)) return;
        for (size_t i = 0; i < t.events.size(); ++i)
            if (!t.used[i] && t.events[i].chain == chain) {
                best = &t;
                best_key = &it->first;
                best_start = i;
                break;
            }
    };
    auto [from, to] = by_packet_.equal_range(bucket(family, table, packet_index_key(step.pkt)));
    for (auto b = from; b != to; ++b) consider(b->second);
    for (const Key& key : unindexed_) consider(key);
    if (!best) return false;

    // From the chain's first event to its end: its policy, or a rule whose verdict ends the walk (possibly
    // in a chain it jumped to).
    const NftraceEvent* decider = nullptr;
    for (size_t i = best_start; i < best->events.size(); ++i) {
        if (best->used[i]) continue;
        const NftraceEvent& e = best->events[i];
        best->used[i] = true;
        ++stats_.merged;
        if (e.kind == NftraceKind::rule) {
            std::string where =
                (own_chain && e.chain == step.chain) ? std::string() : fmt_chain(e.family, e.table, e.chain);
            step.traced_rules.push_back(TracedRule{e.rule_handle.value_or(0), e.rule, e.verdict, where});
        }
        bool ends =
            (e.kind == NftraceKind::policy && e.chain == chain) || (e.kind == NftraceKind::rule && terminal(e.verdict));
        if (ends) {
            decider = e.kind == NftraceKind::rule ? &e : nullptr;
            break;
        }
    }
    if (!step.trace_id) step.trace_id = std::get<2>(*best_key);
    if (own_chain && decider) {
        step.rule_handle = decider->rule_handle;
        step.rule = decider->rule;
    }
    return true;
}

} // namespace wgbpf
