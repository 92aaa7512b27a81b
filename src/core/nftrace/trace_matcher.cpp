// Matching: a timeline is a candidate for a trace when some of the trace's chain visits can be laid on the
// timeline's netfilter steps in order (same chain, or a chain of the step's shared span) with `same_packet`
// true for each; the candidate with most such chains wins, then one no other trace took, then the earliest.
//
// Scope of "only wgbpf": nftrace text has no clock and no namespace, so wgbpf packets count as missed by the
// trace only inside what the matched traces show: the namespaces of matched timelines and the time from the
// first matched timeline's first step to the last one's last step. With nothing matched, nothing is in scope.
#include "nftrace/trace_matcher.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>

namespace wgbpf {
namespace {

bool terminal(std::string_view verdict) {
    return verdict == "accept" || verdict == "drop" || verdict == "queue" || verdict == "stolen";
}

std::string mark_text(uint32_t mark) { return fmt::format("0x{:x}", mark); }

std::vector<const NetfilterStep*> chain_steps(const PacketTimeline& t) {
    std::vector<const NetfilterStep*> out;
    for (const TimelineStep& s : t.steps)
        if (const auto* nf = std::get_if<NetfilterStep>(&s); nf && !nf->chain.empty()) out.push_back(nf);
    return out;
}

std::string step_name(const NetfilterStep& s) { return fmt::format("{} {} {}", s.family, s.table, s.chain); }

bool covers(const NetfilterStep& s, const NftraceChainVisit& v) {
    if (s.table == v.table && s.chain == v.chain && (v.family.empty() || s.family == v.family)) return true;
    std::string name = v.name();
    return std::find(s.shared_with.begin(), s.shared_with.end(), name) != s.shared_with.end();
}

uint64_t first_time(const PacketTimeline& t) { return t.steps.empty() ? 0 : step_time(t.steps.front()); }
uint64_t last_time(const PacketTimeline& t) { return t.steps.empty() ? 0 : step_time(t.steps.back()); }

class Matcher {
public:
    Matcher(const std::vector<PacketTimeline>& timelines, const std::function<std::string(int)>& interface_name)
        : timelines_(timelines), interface_name_(interface_name) {
        for (size_t ti = 0; ti < timelines.size(); ++ti) {
            steps_.push_back(chain_steps(timelines[ti]));
            std::set<uint64_t> keys;
            for (const NetfilterStep* s : steps_.back()) keys.insert(packet_index_key(s->pkt));
            for (uint64_t k : keys) by_packet_[k].push_back(ti);
        }
    }

    // The timelines a trace's visits could lie on: those indexed under the visits' packets, in order; all of
    // them when a visit has no packet, or its packet lacks what the index needs.
    std::vector<size_t> candidates(const std::vector<NftraceChainVisit>& visits) const {
        std::set<size_t> out;
        for (const NftraceChainVisit& v : visits) {
            std::optional<uint64_t> key = v.packet ? packet_index_key(*v.packet) : std::nullopt;
            if (!key) { // a visit without a packet lies on any step of its chain
                std::vector<size_t> all(timelines_.size());
                for (size_t i = 0; i < all.size(); ++i) all[i] = i;
                return all;
            }
            if (auto it = by_packet_.find(*key); it != by_packet_.end())
                out.insert(it->second.begin(), it->second.end());
        }
        return {out.begin(), out.end()};
    }

    // For each visit, the index of the step it lies on in timeline `ti` (greedy, in order).
    std::vector<std::optional<size_t>> lay(const std::vector<NftraceChainVisit>& visits, size_t ti) const {
        std::vector<std::optional<size_t>> at(visits.size());
        const auto& steps = steps_[ti];
        size_t from = 0;
        for (size_t vi = 0; vi < visits.size(); ++vi) {
            for (size_t j = from; j < steps.size(); ++j) {
                if (covers(*steps[j], visits[vi]) && same(visits[vi], steps[j]->pkt)) {
                    at[vi] = j;
                    from = j; // the next visit may share this step's span
                    break;
                }
            }
        }
        return at;
    }

    std::optional<size_t> best(const std::vector<NftraceChainVisit>& visits, const std::set<size_t>& taken) const {
        std::optional<size_t> pick;
        size_t pick_score = 0;
        for (size_t ti : candidates(visits)) {
            if (steps_[ti].empty()) continue;
            auto at = lay(visits, ti);
            size_t score = std::count_if(at.begin(), at.end(), [](const auto& a) { return a.has_value(); });
            if (score == 0) continue;
            if (!pick || score > pick_score || (score == pick_score && better(ti, *pick, taken))) {
                pick = ti;
                pick_score = score;
            }
        }
        return pick;
    }

    const std::vector<const NetfilterStep*>& steps(size_t ti) const { return steps_[ti]; }

private:
    bool better(size_t a, size_t b, const std::set<size_t>& taken) const {
        bool a_free = !taken.count(a), b_free = !taken.count(b);
        if (a_free != b_free) return a_free;
        return first_time(timelines_[a]) < first_time(timelines_[b]);
    }

    bool same(const NftraceChainVisit& v, const PacketInfo& p) const {
        if (!v.packet) return true;
        if (!same_packet(*v.packet, p)) return false;
        return same_interface(v.packet->iif, p.iif) && same_interface(v.packet->oif, p.oif);
    }
    bool same_interface(const std::string& traced, int ifindex) const {
        if (traced.empty() || ifindex == 0 || !interface_name_) return true;
        std::string name = interface_name_(ifindex);
        return name.empty() || name == traced;
    }

    const std::vector<PacketTimeline>& timelines_;
    const std::function<std::string(int)>& interface_name_;
    std::vector<std::vector<const NetfilterStep*>> steps_;
    std::unordered_map<uint64_t, std::vector<size_t>> by_packet_; // packet_index_key -> timelines with such a step
};

ChainAlignment only_wgbpf_row(const NetfilterStep& s, uint64_t packet) {
    ChainAlignment row;
    row.side = ChainSide::only_wgbpf;
    row.chain = step_name(s);
    row.packet = packet;
    row.wgbpf = s;
    return row;
}

// Both saw the chain: verdict and mark after it, where both sides know them.
ChainAlignment both_row(const NftraceChainVisit& v, const NetfilterStep& s, uint64_t packet, bool last_of_span) {
    ChainAlignment row;
    row.side = ChainSide::both;
    row.chain = v.name();
    row.packet = packet;
    row.nftrace = v;
    row.wgbpf = s;
    if (!last_of_span) {
        row.note =
            fmt::format("wgbpf measured this chain together with {}: compared at the span's last chain", step_name(s));
        return row;
    }
    if (v.verdict.empty()) row.note = "verdict not compared: nftrace shows none for this chain";
    else if (s.verdict == NfVerdict::unknown)
        row.note = "verdict not compared: wgbpf did not see the packet leave the chain";
    else if (v.verdict != name_of(s.verdict)) row.disagree.push_back("verdict");
    if (v.mark_after && *v.mark_after != s.mark_after) row.disagree.push_back("mark");
    return row;
}

} // namespace

std::string NftraceChainVisit::name() const {
    return family.empty() ? fmt::format("{} {}", table, chain) : fmt::format("{} {} {}", family, table, chain);
}

std::vector<NftraceChainVisit> chain_visits(const NftraceTrace& trace) {
    std::vector<NftraceChainVisit> out;
    for (const NftraceEvent& e : trace.events) {
        if (e.kind == NftraceKind::packet || out.empty()) {
            NftraceChainVisit v;
            v.family = e.family;
            v.table = e.table;
            v.chain = e.chain;
            v.packet = e.packet;
            v.line = e.line;
            out.push_back(std::move(v));
        }
        NftraceChainVisit& v = out.back();
        if (!e.ct_state.empty()) v.ct_state = e.ct_state;
        bool base = e.family == v.family && e.table == v.table && e.chain == v.chain;
        switch (e.kind) {
        case NftraceKind::policy:
            v.verdict = e.verdict;
            v.mark_after = e.mark.value_or(0); // nft prints the mark only when it is not 0
            break;
        case NftraceKind::verdict:
            if (base) v.mark_after = e.mark.value_or(0);
            if (terminal(e.verdict)) v.verdict = e.verdict;
            break;
        case NftraceKind::rule:
            if (terminal(e.verdict)) {
                v.verdict = e.verdict;
                v.mark_after = e.mark; // rule lines carry no mark: unknown unless shown
            }
            break;
        default: break;
        }
    }
    return out;
}

void MatchScope::widen(const MatchScope& other) {
    namespaces.insert(other.namespaces.begin(), other.namespaces.end());
    from = std::min(from, other.from);
    to = std::max(to, other.to);
}

namespace {

// Phase 1: each trace's chain visits, and the timeline it takes (each timeline taken at most once, in order).
struct Assignment {
    std::vector<std::vector<NftraceChainVisit>> visits; // per trace
    std::vector<std::optional<size_t>> chosen;          // per trace: its timeline's index
    std::set<size_t> taken;
    std::map<size_t, size_t> trace_of; // timeline index -> first trace that took it
};

Assignment assign_traces(const NftraceLog& log, Matcher& matcher) {
    Assignment a;
    for (const NftraceTrace& t : log.traces) {
        a.visits.push_back(chain_visits(t));
        a.chosen.push_back(matcher.best(a.visits.back(), a.taken));
        if (a.chosen.back()) {
            a.taken.insert(*a.chosen.back());
            a.trace_of.try_emplace(*a.chosen.back(), a.visits.size() - 1);
        }
    }
    return a;
}

ChainAlignment nftrace_only_row(const NftraceChainVisit& v, std::string note = "") {
    ChainAlignment row;
    row.side = ChainSide::only_nftrace;
    row.chain = v.name();
    row.nftrace = v;
    row.note = std::move(note);
    return row;
}

// Phase 2: one matched trace, chain by chain against its timeline's netfilter steps, in their order.
void align_chains(TraceMatch& m, const std::vector<NftraceChainVisit>& vs, const Matcher& matcher, size_t ti) {
    const PacketTimeline& t = *m.timeline;
    const auto& steps = matcher.steps(ti);
    auto at = matcher.lay(vs, ti);
    std::map<size_t, size_t> last_visit; // step -> last visit on it
    for (size_t vi = 0; vi < vs.size(); ++vi)
        if (at[vi]) last_visit[*at[vi]] = vi;
    size_t next = 0;
    for (size_t vi = 0; vi < vs.size(); ++vi) {
        if (!at[vi]) {
            m.chains.push_back(nftrace_only_row(vs[vi], "wgbpf saw this packet but not this chain"));
            continue;
        }
        for (; next < *at[vi]; ++next) m.chains.push_back(only_wgbpf_row(*steps[next], t.id));
        m.chains.push_back(both_row(vs[vi], *steps[*at[vi]], t.id, last_visit[*at[vi]] == vi));
        next = *at[vi] + 1;
    }
    for (; next < steps.size(); ++next) m.chains.push_back(only_wgbpf_row(*steps[next], t.id));
}

void collect_disagreements(const TraceMatch& m, std::vector<Disagreement>& out) {
    for (const ChainAlignment& row : m.chains)
        for (const std::string& what : row.disagree) {
            bool verdict = what == "verdict";
            out.push_back(
                Disagreement{m.trace->id, m.timeline->id, row.chain, what,
                             verdict ? row.nftrace->verdict : mark_text(*row.nftrace->mark_after),
                             verdict ? std::string(name_of(row.wgbpf->verdict)) : mark_text(row.wgbpf->mark_after)});
        }
}

// Phase 3: where nftrace loses the packet (WireGuard), what wgbpf saw of it after: its outer packet's chains are
// shown here unless a trace of their own took them (`shown` collects the outer timelines shown so).
void follow_encapsulation(TraceMatch& m, const NftraceLog& log, const Matcher& matcher, const Assignment& a,
                          const std::map<uint64_t, size_t>& by_id, std::set<size_t>& shown) {
    const PacketTimeline& t = *m.timeline;
    if (t.decapsulated_from)
        m.notes.push_back(fmt::format("wgbpf: decrypted from outer packet #{}; nftrace starts a new trace there",
                                      *t.decapsulated_from));
    auto outer = t.outcome == Outcome::encapsulated && t.encapsulated_in ? by_id.find(*t.encapsulated_in) : by_id.end();
    if (outer == by_id.end() || matcher.steps(outer->second).empty()) return;
    std::string note = fmt::format(
        "nftrace lost the packet at WireGuard encapsulation; wgbpf follows it as outer packet #{}", *t.encapsulated_in);
    if (auto traced = a.trace_of.find(outer->second); traced != a.trace_of.end()) {
        note += fmt::format(" (traced separately as {:08x})", log.traces[traced->second].id);
    } else {
        for (const NetfilterStep* s : matcher.steps(outer->second))
            m.chains.push_back(only_wgbpf_row(*s, *t.encapsulated_in));
        shown.insert(outer->second);
    }
    m.notes.push_back(std::move(note));
}

// Phase 4: wgbpf packets no trace covered, within the scope the matched traces show (widened by the caller's).
void add_untraced(Comparison& out, const std::vector<PacketTimeline>& timelines, const Matcher& matcher,
                  const Assignment& a, const std::set<size_t>& shown, const MatchOptions& options) {
    for (size_t ti : a.taken) {
        out.scope.namespaces.insert(timelines[ti].netns);
        out.scope.from = std::min(out.scope.from, first_time(timelines[ti]));
        out.scope.to = std::max(out.scope.to, last_time(timelines[ti]));
    }
    MatchScope scope = out.scope;
    if (options.scope) scope.widen(*options.scope);
    std::vector<size_t> missed;
    for (size_t ti = 0; ti < timelines.size(); ++ti) {
        const PacketTimeline& t = timelines[ti];
        if (a.taken.count(ti) || matcher.steps(ti).empty() || !scope.namespaces.count(t.netns)) continue;
        if (!shown.count(ti) && (last_time(t) < scope.from || first_time(t) > scope.to)) continue;
        if (!shown.count(ti) && !options.report_unmatched) continue; // a later trace may still take it
        missed.push_back(ti);
    }
    std::sort(missed.begin(), missed.end(),
              [&](size_t x, size_t y) { return first_time(timelines[x]) < first_time(timelines[y]); });
    for (size_t ti : missed) {
        if (shown.count(ti)) continue;
        TraceMatch m;
        m.timeline = &timelines[ti];
        for (const NetfilterStep* s : matcher.steps(ti)) m.chains.push_back(only_wgbpf_row(*s, timelines[ti].id));
        out.only_wgbpf.push_back(std::move(m));
    }
    out.only_wgbpf_packets = missed.size();
}

} // namespace

Comparison compare_traces(const NftraceLog& log, const std::vector<PacketTimeline>& timelines,
                          const std::function<std::string(int)>& interface_name, const MatchOptions& options) {
    Matcher matcher(timelines, interface_name);
    const Assignment a = assign_traces(log, matcher);
    std::map<uint64_t, size_t> by_id;
    for (size_t i = 0; i < timelines.size(); ++i) by_id[timelines[i].id] = i;

    Comparison out;
    std::set<size_t> shown; // unmatched outer timelines already shown after their inner packet
    for (size_t k = 0; k < log.traces.size(); ++k) {
        TraceMatch m;
        m.trace = &log.traces[k];
        if (!a.chosen[k]) {
            ++out.only_nftrace;
            for (const NftraceChainVisit& v : a.visits[k]) m.chains.push_back(nftrace_only_row(v));
            out.traces.push_back(std::move(m));
            continue;
        }
        ++out.matched;
        m.timeline = &timelines[*a.chosen[k]];
        align_chains(m, a.visits[k], matcher, *a.chosen[k]);
        collect_disagreements(m, out.disagreements);
        follow_encapsulation(m, log, matcher, a, by_id, shown);
        out.traces.push_back(std::move(m));
    }
    add_untraced(out, timelines, matcher, a, shown, options);
    return out;
}

} // namespace wgbpf
