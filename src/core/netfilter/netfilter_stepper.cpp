#include "netfilter/netfilter_stepper.hpp"
#include "netfilter/rule_match.hpp"

#include <fmt/format.h>
#include <netinet/in.h>

#include <algorithm>
#include <set>

namespace wgbpf {
namespace {

using Member = BracketSpan::Member;

std::string member_text(const Member& m) { return m.family + " " + m.table + " " + m.chain; }
std::string table_family_name(uint8_t nfproto) {
    switch (nfproto) {
    case kNfprotoInet: return "inet";
    case kNfprotoIpv4: return "ip";
    case kNfprotoArp: return "arp";
    case kNfprotoNetdev: return "netdev";
    case kNfprotoBridge: return "bridge";
    case kNfprotoIpv6: return "ip6";
    }
    return std::to_string(nfproto);
}

// Which marks a rule sets, from its text: `meta mark set ...` sets the packet mark, `ct mark set ...`
// the conntrack mark (`meta mark set ct mark` restores one from the other).
struct Sets {
    bool mark = false;
    bool ct_mark = false;
};
Sets sets_of(const std::string& text) {
    Sets s;
    for (size_t pos = text.find("mark set"); pos != std::string::npos; pos = text.find("mark set", pos + 1)) {
        if (pos >= 3 && text.compare(pos - 3, 3, "ct ") == 0) s.ct_mark = true;
        else s.mark = true;
    }
    return s;
}

// Chains a rule jumps to or goes to (`jump NAME`, `goto NAME`, also inside verdict maps).
std::vector<std::string> jump_targets(const std::string& text) {
    std::vector<std::string> out;
    for (const char* verb : {"jump ", "goto "}) {
        for (size_t pos = text.find(verb); pos != std::string::npos; pos = text.find(verb, pos + 1)) {
            if (pos > 0 && text[pos - 1] != ' ' && text[pos - 1] != ':' && text[pos - 1] != '{') continue;
            size_t start = pos + 5, end = text.find_first_of(" ,;}", start);
            std::string name = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
            if (name.size() >= 2 && name.front() == '"' && name.back() == '"') name = name.substr(1, name.size() - 2);
            if (!name.empty()) out.push_back(name);
        }
    }
    return out;
}

// Rules that may have made a change: those of the span's chains (and the chains they jump to) that set
// what changed and whose matches the packet may satisfy. A pointer for the reader, not a proof: which rule
// matched is not observed. Counts in `excluded` the setters whose matches the packet certainly fails.
void add_candidates(const NftRuleset& ruleset, const NftChain& chain, bool mark, bool ct_mark, bool own,
                    const RuleMatchInput& packet, std::set<const NftChain*>& visited, std::vector<std::string>& out,
                    size_t& excluded) {
    if (!visited.insert(&chain).second) return;
    for (const NftRule& r : chain.rules) {
        Sets s = sets_of(r.text);
        if (!((mark && s.mark) || (ct_mark && s.ct_mark))) continue;
        if (!rule_may_match(r.text, packet)) {
            ++excluded;
            continue;
        }
        out.push_back(own ? r.text : chain.qualified() + ": " + r.text);
    }
    for (const NftRule& r : chain.rules)
        for (const std::string& target : jump_targets(r.text))
            if (const NftChain* c = ruleset.chain(chain.family, chain.table, target))
                add_candidates(ruleset, *c, mark, ct_mark, false, packet, visited, out, excluded);
}

RuleMatchInput match_input(const NetfilterStep& s) {
    RuleMatchInput in{s.pkt, s.mark_before, s.mark_after, std::nullopt, std::nullopt};
    if (s.ct_tracked_before()) in.ct_mark_before = s.ct_mark_before;
    if (s.ct_tracked_after()) in.ct_mark_after = s.ct_mark_after;
    return in;
}

void note_no_candidate(NetfilterStep& s, size_t excluded) {
    if (!s.rules_that_set.empty()) return;
    if (excluded)
        s.notes.push_back("the rules of these chains that set it do not match this packet as wgbpf read it "
                          "(protocol, ports, addresses, mark): iptables-legacy, conntrack or another BPF program did");
    else
        s.notes.push_back("no nftables rule of these chains sets what changed: iptables-legacy, conntrack or "
                          "another BPF program did");
}

std::string endpoint_text(const IpAddress& a, uint16_t port, bool with_port) {
    if (!with_port) return a.to_string();
    return a.family == Family::ipv6 ? fmt::format("[{}]:{}", a.to_string(), port)
                                    : fmt::format("{}:{}", a.to_string(), port);
}

// NAT shows up as a packet whose addresses or ports differ between two brackets. Returns whether it did.
bool note_rewrites(NetfilterStep& s, const PacketInfo& before, const PacketInfo& after) {
    if (!before.is_ip || !after.is_ip || before.family != after.family) return false;
    size_t notes = s.notes.size();
    bool ports = before.has_l4 && after.has_l4 && before.proto != IPPROTO_ICMP && before.proto != IPPROTO_ICMPV6;
    if (before.src != after.src || (ports && before.sport != after.sport))
        s.notes.push_back(fmt::format("src rewritten: {} -> {}", endpoint_text(before.src, before.sport, ports),
                                      endpoint_text(after.src, after.sport, ports)));
    if (before.dst != after.dst || (ports && before.dport != after.dport))
        s.notes.push_back(fmt::format("dst rewritten: {} -> {}", endpoint_text(before.dst, before.dport, ports),
                                      endpoint_text(after.dst, after.dport, ports)));
    return s.notes.size() != notes;
}

// A step for the chains of one span (or several merged), as the packet entered it; marks unchanged
// until the caller knows better.
NetfilterStep span_step(const std::vector<Member>& members, const NfBracketEvent& entered, NfVerdict verdict) {
    NetfilterStep s;
    s.t_ns = entered.t_ns;
    s.netns = entered.netns;
    s.pkt = entered.pkt;
    s.hook = entered.hook;
    if (!members.empty()) {
        s.family = members.front().family;
        s.table = members.front().table;
        s.chain = members.front().chain;
        s.priority = members.front().shown_priority();
        for (size_t i = 1; i < members.size(); ++i) s.shared_with.push_back(member_text(members[i]));
    }
    s.verdict = verdict;
    s.mark_before = s.mark_after = entered.mark;
    s.ct_mark_before = s.ct_mark_after = entered.ct_mark;
    s.ct_state_before = s.ct_state = std::string(ct_state_name(entered.ct_state));
    return s;
}

void explain_changes(NetfilterStep& s, const std::vector<Member>& members, const NftRuleset* ruleset) {
    bool mark = s.mark_changed(), ct_mark = s.ct_mark_changed();
    if (!mark && !ct_mark) return;
    if (members.empty()) {
        s.notes.push_back("changed between wgbpf's hooks by something that is not an nftables chain "
                          "(iptables-legacy, conntrack or another BPF program)");
        return;
    }
    size_t excluded = 0;
    if (ruleset) {
        std::set<const NftChain*> visited;
        const RuleMatchInput packet = match_input(s);
        for (size_t i = 0; i < members.size(); ++i) {
            if (members[i].legacy) continue;
            if (const NftChain* c = ruleset->chain(members[i].family, members[i].table, members[i].chain))
                add_candidates(*ruleset, *c, mark, ct_mark, i == 0, packet, visited, s.rules_that_set, excluded);
        }
    }
    note_no_candidate(s, excluded);
}

std::string members_text(const std::vector<Member>& members) {
    std::string out;
    for (const Member& m : members) out += (out.empty() ? "" : " or ") + member_text(m);
    return out;
}

} // namespace

NetfilterStepper::NetfilterStepper(ContextFor context, StepSink steps, DropSink drops, ReasonName reasons,
                                   SymbolName symbols, uint64_t idle_ns)
    : context_(std::move(context)), steps_(std::move(steps)), drops_(std::move(drops)), reasons_(std::move(reasons)),
      symbols_(std::move(symbols)), idle_ns_(idle_ns) {}

void NetfilterStepper::emit_between(const NetfilterContext& ctx, const NfBracketEvent& from, const NfBracketEvent& to) {
    // Brackets of one hook point are numbered consecutively, so the spans between are those starting at from..to-1.
    std::vector<Member> members;
    for (uint32_t b = from.bracket; b < to.bracket; ++b)
        if (const BracketSpan* span = ctx.plan->span_after(b))
            members.insert(members.end(), span->members.begin(), span->members.end());
    // nftables runs NAT chains only for a connection's first packet; later ones are translated by
    // conntrack from what that first packet decided.
    bool established = from.ct_state == kCtEstablished || from.ct_state == kCtEstablishedReply;
    std::vector<std::string> nat_chains;
    if (established)
        for (const Member& m : members)
            if (m.nat) nat_chains.push_back(member_text(m));
    std::erase_if(members, [&](const Member& m) { return established && m.nat; });
    const size_t nat_not_run = nat_chains.size();

    NetfilterStep s = span_step(members, from, NfVerdict::accept); // it reached the next bracket
    s.pkt_after = to.pkt;
    s.mark_after = to.mark;
    s.ct_mark_after = to.ct_mark;
    s.ct_state = std::string(ct_state_name(to.ct_state));
    explain_changes(s, members, ctx.ruleset);
    bool rewritten = note_rewrites(s, from.pkt, to.pkt);
    // Conntrack's NAT hooks (registered at every hook once any NAT chain exists) sit at fixed priorities. Asked
    // only for an established connection's rewritten packet: the plan's spans are walked for it.
    auto nat_hook_within = [&] {
        const auto& brackets = ctx.plan->brackets;
        const int32_t nat_priority = nat_core_priority(from.hook);
        return to.bracket < brackets.size() && brackets[from.bracket].priority < nat_priority &&
               nat_priority < brackets[to.bracket].priority && ctx.plan->has_nat_chains();
    };
    if (established && rewritten && (nat_not_run || nat_hook_within())) {
        s.notes.push_back(nat_not_run ? "translated by conntrack for an established connection: its NAT chains ran "
                                        "only for the connection's first packet"
                                      : "translated by conntrack's NAT for an established connection");
        s.conntrack_nat = std::move(nat_chains);
    }
    if (members.empty() && !rewritten && !s.mark_changed() && !s.ct_mark_changed()) return;
    if (to.bracket - from.bracket > 1)
        s.notes.push_back("bracket events missing: the chains between are reported together");
    steps_(std::move(s));
}

std::string NetfilterStepper::emit_open_span(const NfBracketEvent& last, NfVerdict verdict, const std::string& note) {
    NetfilterContext ctx = context_(last.netns);
    if (!ctx.plan || ctx.plan->generation != last.generation) return {}; // brackets moved since: spans unknown
    const BracketSpan* span = ctx.plan->span_after(last.bracket);
    if (!span || span->members.empty()) return {};
    NetfilterStep s = span_step(span->members, last, verdict);
    if (!note.empty()) s.notes.push_back(note);
    steps_(std::move(s));
    return members_text(span->members);
}

void NetfilterStepper::add(const NfBracketEvent& e) {
    NetfilterContext ctx = context_(e.netns);
    if (!ctx.plan || e.generation != ctx.plan->generation || e.bracket >= ctx.plan->brackets.size()) {
        ++stale_;
        return;
    }
    Pending& p = pending_[e.pkt.id];
    if (p.last) {
        const NfBracketEvent& prev = *p.last;
        const auto& brackets = ctx.plan->brackets;
        bool same_point = prev.netns == e.netns && prev.generation == e.generation && prev.bracket < e.bracket &&
                          brackets[prev.bracket].pf == brackets[e.bracket].pf &&
                          brackets[prev.bracket].hook == brackets[e.bracket].hook;
        if (same_point) {
            emit_between(ctx, prev, e);
        } else {
            // The previous hook point is over. A drop would have ended the packet (and its entry) already.
            emit_open_span(prev, NfVerdict::stolen,
                           "the packet left this hook before wgbpf's next hook: a chain here stole or queued it, "
                           "or bracket events were lost");
        }
    }
    p.last = e;
    p.netns = e.netns;
    seen(p, e.pkt.id, e.t_ns);
}

void NetfilterStepper::add(const NfChainEvent& e) {
    NetfilterContext ctx = context_(e.netns);
    if (ctx.ruleset && std::ranges::count(ctx.ruleset->hidden_tables, e.table_handle)) return; // wgbpf's trace table
    const NftChain* chain = ctx.ruleset ? ctx.ruleset->chain_by_handle(e.table_handle, e.chain_handle) : nullptr;

    NetfilterStep s;
    s.t_ns = e.t_ns;
    s.netns = e.netns;
    s.pkt = e.pkt;
    s.hook = e.hook;
    s.exact = true;
    if (chain) {
        s.family = chain->family;
        s.table = chain->table;
        s.chain = chain->name;
        s.priority = chain->priority;
    } else {
        s.family = table_family_name(e.table_family);
        s.table = fmt::format("handle {}", e.table_handle);
        s.chain = fmt::format("handle {}", e.chain_handle);
        s.notes.push_back("chain not in wgbpf's copy of the ruleset (changed since it was read)");
    }
    s.verdict = nf_verdict_of(e.verdict);
    s.mark_before = e.mark_before;
    s.mark_after = e.mark_after;
    s.ct_mark_before = e.ct_mark_before;
    s.ct_mark_after = e.ct_mark_after;
    s.ct_state_before = std::string(ct_state_name(e.ct_state_before));
    s.ct_state = std::string(ct_state_name(e.ct_state_after));
    bool mark = s.mark_changed(), ct_mark = s.ct_mark_changed();
    if (chain && (mark || ct_mark)) {
        std::set<const NftChain*> visited;
        size_t excluded = 0;
        add_candidates(*ctx.ruleset, *chain, mark, ct_mark, true, match_input(s), visited, s.rules_that_set, excluded);
        if (excluded && s.rules_that_set.empty()) note_no_candidate(s, excluded);
    }
    // Only drops need remembering: the drop event names this chain. Since 6.7 nft frees the packet inside
    // nft_do_chain, so that drop event came first and is held until now.
    std::string dropped_by = chain ? chain->qualified() : s.family + " " + s.table + " " + s.chain;
    bool drop = s.verdict == NfVerdict::drop;
    steps_(std::move(s));
    if (!drop) return;
    Pending& p = pending_[e.pkt.id];
    if (p.held_drop) {
        p.held_drop->chain = dropped_by;
        drops_(std::move(*p.held_drop));
        pending_.erase(e.pkt.id);
        return;
    }
    p.dropped_by = dropped_by;
    p.netns = e.netns;
    seen(p, e.pkt.id, e.t_ns);
}

void NetfilterStepper::add(const DropEvent& e) {
    DropStep d;
    d.t_ns = e.t_ns;
    d.netns = e.netns;
    d.pkt = e.pkt;
    d.reason = reasons_ ? reasons_(e.reason) : std::to_string(e.reason);
    d.location = symbols_ ? symbols_(e.location) : std::string();

    auto it = pending_.find(e.pkt.id);
    if (it != pending_.end()) {
        const Pending& p = it->second;
        bool same_ns = e.netns == 0 || p.netns == e.netns; // 0: the kernel could not tell at the free
        if (same_ns && !p.dropped_by.empty()) {
            d.chain = p.dropped_by; // the exact verdict said so
        } else if (same_ns && p.last && d.reason == "NETFILTER_DROP") {
            // Netfilter dropped it after the last bracket it passed: the chains of the span after it.
            d.chain = emit_open_span(*p.last, NfVerdict::drop, "");
        }
        pending_.erase(it);
    } else if (d.reason == "NETFILTER_DROP") {
        // Exact flavour on 6.7+: the dropping chain's verdict is reported just after this; wait for it.
        Pending& p = pending_[e.pkt.id];
        p.netns = e.netns;
        seen(p, e.pkt.id, e.t_ns);
        p.held_drop = std::move(d);
        return;
    }
    drops_(std::move(d));
}

void NetfilterStepper::finish(Pending& p) {
    if (p.last)
        emit_open_span(*p.last, NfVerdict::unknown, "packet not seen after this chain (stolen, queued, or event lost)");
    if (p.held_drop) drops_(std::move(*p.held_drop)); // no chain said it: shown without one
}

void NetfilterStepper::seen(Pending& p, uint64_t id, uint64_t t_ns) {
    p.seen_ns = t_ns;
    by_time_.push_back({t_ns, id});
}

void NetfilterStepper::flush(uint64_t now_ns) {
    // Times come nearly in order (per-CPU buffers interleave): an entry not idle yet ends the walk.
    while (!by_time_.empty() && now_ns >= by_time_.front().t_ns && now_ns - by_time_.front().t_ns >= idle_ns_) {
        const Seen s = by_time_.front();
        by_time_.pop_front();
        auto it = pending_.find(s.id);
        if (it == pending_.end() || it->second.seen_ns != s.t_ns) continue; // gone, or seen again since
        finish(it->second);
        pending_.erase(it);
    }
}

void NetfilterStepper::flush_all() {
    for (const Seen& s : by_time_) { // oldest first, as flush() would have
        auto it = pending_.find(s.id);
        if (it == pending_.end() || it->second.seen_ns != s.t_ns) continue;
        finish(it->second);
        pending_.erase(it);
    }
    for (auto& [id, p] : pending_) finish(p); // none: every pending packet has its latest sighting queued
    pending_.clear();
    by_time_.clear();
}

} // namespace wgbpf
