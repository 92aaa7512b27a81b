#include "nftrace/trace_text_parser.hpp"

#include <fmt/format.h>

#include <charconv>
#include <iterator>
#include <map>
#include <sstream>

#include "nftrace/trace_fields.hpp"

namespace wgbpf {
namespace {

// One event as nft printed it: the `trace id` line plus the lines wrapped off it, joined by one blank.
struct Record {
    std::string text;
    size_t line = 0;
};

struct Parsed {
    std::optional<NftraceEvent> event;
    std::optional<NftraceFields> conntrack; // nft 1.1.4+ prints conntrack on its own line before `packet:`
    std::string warning;
};

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && (is_blank(s.front()) || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (is_blank(s.back()) || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

// The next blank-separated word of `s` from `at`; `at` moves past it.
std::string_view next_word(std::string_view s, size_t& at) {
    while (at < s.size() && is_blank(s[at])) ++at;
    size_t start = at;
    while (at < s.size() && !is_blank(s[at])) ++at;
    return s.substr(start, at - start);
}

bool starts_trace(std::string_view trimmed) {
    return trimmed.starts_with("trace id") && (trimmed.size() == 8 || is_blank(trimmed[8]));
}

bool is_family(std::string_view w) {
    return w == "ip" || w == "ip6" || w == "inet" || w == "arp" || w == "bridge" || w == "netdev";
}
bool is_kind(std::string_view w) {
    return w == "packet:" || w == "rule" || w == "verdict" || w == "policy" || w == "unknown" || w == "conntrack:";
}

template <typename T>
std::optional<T> parse_number(std::string_view s, int base) {
    T v{};
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

// A verdict as nft prints it: one word, two for `jump CHAIN` / `goto CHAIN`.
std::string verdict_words(std::string_view s, size_t& at) {
    std::string v(next_word(s, at));
    if (v == "jump" || v == "goto") v += " " + std::string(next_word(s, at));
    return v;
}

// `RULE [# handle N] (verdict V)` or, with `nft -a` spellings of some versions, `RULE handle N (verdict V)`.
std::optional<std::string> read_rule(std::string_view rest, NftraceEvent& e) {
    size_t open = rest.rfind("(verdict ");
    size_t close = open == std::string_view::npos ? open : rest.find(')', open);
    if (close == std::string_view::npos) return "rule without '(verdict ...)': cut short?";
    size_t at = open + 9;
    e.verdict = verdict_words(rest.substr(0, close), at);
    if (e.verdict.empty() || e.verdict.ends_with(' ')) return "rule with an incomplete verdict";
    std::string_view rule = trim(rest.substr(0, open));
    size_t h = rule.rfind("handle ");
    if (h != std::string_view::npos && (h == 0 || is_blank(rule[h - 1]))) {
        if (auto n = parse_number<uint64_t>(trim(rule.substr(h + 7)), 10)) {
            e.rule_handle = n;
            rule = trim(rule.substr(0, h));
            if (rule.ends_with("#")) rule = trim(rule.substr(0, rule.size() - 1));
        }
    }
    e.rule = rule;
    return std::nullopt;
}

void take_fields(NftraceEvent& e, const NftraceFields& f) {
    if (f.mark) e.mark = f.mark;
    if (f.ct_mark) e.ct_mark = f.ct_mark;
    if (!f.ct_state.empty()) e.ct_state = f.ct_state;
}

Parsed parse_record(const Record& r) {
    Parsed out;
    auto warn = [&](std::string_view why) {
        out.event.reset();
        out.conntrack.reset();
        out.warning = fmt::format("line {}: {}", r.line, why);
        return out;
    };
    std::string_view s = r.text;
    size_t at = 0;
    next_word(s, at); // trace
    next_word(s, at); // id
    std::string_view id_text = next_word(s, at);
    auto id = id_text.size() <= 8 ? parse_number<uint32_t>(id_text, 16) : std::nullopt;
    if (!id) return warn(fmt::format("trace id '{}' is not 1 to 8 hexadecimal digits", id_text));

    std::string_view w[4];
    size_t after[4];
    for (int i = 0; i < 4; ++i) {
        w[i] = next_word(s, at);
        after[i] = at;
    }
    NftraceEvent e;
    e.trace_id = *id;
    e.line = r.line;
    std::string_view kind;
    if (is_family(w[0]) && is_kind(w[3])) {
        e.family = w[0];
        e.table = w[1];
        e.chain = w[2];
        kind = w[3];
        at = after[3];
    } else if (is_kind(w[2])) { // the family left out, as in some hand-shortened examples
        e.table = w[0];
        e.chain = w[1];
        kind = w[2];
        at = after[2];
    } else {
        return warn("not an event nft prints: expected 'trace id ID FAMILY TABLE CHAIN' and then packet:, rule, "
                    "verdict, policy or conntrack:");
    }
    std::string_view rest = trim(s.substr(at));

    auto fields = [&](std::string_view text) -> std::optional<NftraceFields> {
        auto f = parse_nftrace_fields(text);
        if (!f) {
            warn(f.error());
            return std::nullopt;
        }
        return std::move(f.value());
    };
    if (kind == "packet:") {
        auto f = fields(rest);
        if (!f) return out;
        e.kind = NftraceKind::packet;
        e.packet = f->packet;
        take_fields(e, *f);
    } else if (kind == "conntrack:") {
        auto f = fields(rest);
        if (!f) return out;
        out.conntrack = std::move(*f);
        out.event = e; // carries the trace id and chain, not an event of its own
        return out;
    } else if (kind == "rule") {
        e.kind = NftraceKind::rule;
        if (auto why = read_rule(rest, e)) return warn(*why);
    } else if (kind == "unknown") {
        size_t pos = 0;
        if (next_word(rest, pos) != "rule") return warn("expected 'unknown rule handle N (verdict V)'");
        e.kind = NftraceKind::rule;
        if (auto why = read_rule(rest.substr(pos), e)) return warn(*why); // "handle N (verdict V)"
        if (!e.rule_handle || !e.rule.empty()) return warn("expected 'unknown rule handle N (verdict V)'");
    } else { // verdict | policy, then fields (meta mark)
        e.kind = kind == "verdict" ? NftraceKind::verdict : NftraceKind::policy;
        size_t pos = 0;
        e.verdict = verdict_words(rest, pos);
        if (e.verdict.empty() || e.verdict.ends_with(' ')) return warn(fmt::format("{} without a value", kind));
        auto f = fields(rest.substr(pos));
        if (!f) return out;
        take_fields(e, *f);
    }
    out.event = std::move(e);
    return out;
}

bool same_chain(const NftraceEvent& a, const NftraceEvent& b) {
    return a.family == b.family && a.table == b.table && a.chain == b.chain;
}

} // namespace

// ---- the stream

struct NftraceTextStream::Open {
    NftraceTrace trace;
    size_t last_record = 0; // the record number of its latest event
    bool closed = false;
};

NftraceTextStream::NftraceTextStream(Sink sink, std::string source, NftraceStreamLimits limits)
    : sink_(std::move(sink)), source_(std::move(source)), limits_(limits) {}

NftraceTextStream::~NftraceTextStream() = default;

void NftraceTextStream::feed(std::string_view text) {
    while (!text.empty()) {
        size_t end = text.find('\n');
        if (end == std::string_view::npos) {
            if (overlong_) return; // the rest of a line already too long: dropped up to its newline
            if (partial_.size() + text.size() > limits_.max_line) { // a "line" this long is not nft's
                partial_.clear();
                overlong_ = true;
            } else {
                partial_.append(text);
            }
            return;
        }
        if (partial_.empty() && !overlong_) {
            line(text.substr(0, end));
        } else {
            if (!overlong_) partial_.append(text.substr(0, end));
            line(partial_);
            partial_.clear();
            overlong_ = false;
        }
        text.remove_prefix(end + 1);
    }
}

void NftraceTextStream::line(std::string_view line) {
    ++stats_.lines;
    std::string_view trimmed = trim(line);
    if (starts_trace(trimmed)) {
        end_record();
        record_ = std::string(trimmed);
        record_line_ = stats_.lines;
        ++stats_.trace_lines;
    } else if (record_ && !trimmed.empty() && (is_blank(line.front()) || trimmed.starts_with("(verdict"))) {
        // Wrapped by a terminal or an article: indented, or the verdict pushed to a line of its own.
        if (record_->size() + trimmed.size() < limits_.max_line) {
            *record_ += ' ';
            *record_ += trimmed;
        }
    } else {
        end_record();
        ++stats_.ignored_lines;
    }
}

void NftraceTextStream::warn(std::string text) {
    ++stats_.warning_count;
    if (stats_.warnings.size() < limits_.max_warnings) stats_.warnings.push_back(std::move(text));
}

void NftraceTextStream::end_record() {
    if (!record_) return;
    Parsed p = parse_record(Record{std::move(*record_), record_line_});
    record_.reset();
    ++records_;
    if (!p.warning.empty()) return warn(std::move(p.warning));
    NftraceEvent& e = *p.event;
    if (p.conntrack) {
        if (pending_ct_.size() < limits_.max_open) pending_ct_[e.trace_id] = std::move(*p.conntrack);
        return;
    }
    if (auto ct = pending_ct_.find(e.trace_id); ct != pending_ct_.end()) {
        if (!e.ct_mark) e.ct_mark = ct->second.ct_mark;
        if (e.ct_state.empty()) e.ct_state = ct->second.ct_state;
        pending_ct_.erase(ct);
    }
    auto open = open_.find(e.trace_id);
    if (open != open_.end() && restarts(open->second->trace, e)) {
        open->second->closed = true;
        open_.erase(open);
        open = open_.end();
    }
    if (open == open_.end()) {
        order_.push_back(Open{NftraceTrace{e.trace_id, {}}, records_, false});
        open = open_.emplace(e.trace_id, &order_.back()).first;
    }
    Open& t = *open->second;
    t.last_record = records_;
    if (t.trace.events.size() < limits_.max_events) t.trace.events.push_back(std::move(e));
    release(false);
}

// In order of their first line: each trace goes out once it is closed, or idle, or too many are open.
void NftraceTextStream::release(bool all) {
    while (!order_.empty()) {
        Open& front = order_.front();
        bool idle = records_ - front.last_record > limits_.idle_records;
        if (!all && !front.closed && !idle && order_.size() <= limits_.max_open) return;
        if (auto it = open_.find(front.trace.id); it != open_.end() && it->second == &front) open_.erase(it);
        ++stats_.traces;
        NftraceTrace trace = std::move(front.trace);
        order_.pop_front();
        sink_(std::move(trace));
    }
}

// A packet cannot enter the same chain twice under one id: this is another packet with a reused id.
bool NftraceTextStream::restarts(const NftraceTrace& t, const NftraceEvent& e) {
    if (e.kind != NftraceKind::packet) return false;
    for (const NftraceEvent& seen : t.events)
        if (seen.kind == NftraceKind::packet && same_chain(seen, e)) return true;
    return false;
}

Result<void> NftraceTextStream::finish() {
    if (!partial_.empty() || overlong_) {
        std::string last = std::move(partial_);
        partial_.clear();
        overlong_ = false;
        line(last);
    }
    end_record();
    release(true);
    pending_ct_.clear();
    if (stats_.trace_lines == 0) return Error{fmt::format("no `trace id` lines in {}", source_)};
    if (stats_.traces == 0)
        return Error{fmt::format("none of the {} `trace id` lines in {} could be read; {}", stats_.trace_lines, source_,
                                 stats_.warnings.empty() ? std::string("?") : stats_.warnings.front())};
    return {};
}

// ---- whole texts

Result<NftraceLog> parse_nftrace_text(std::string_view text, std::string_view source) {
    NftraceLog log;
    NftraceStreamLimits everything;
    everything.idle_records = SIZE_MAX; // a whole text: traces close only when their id is reused, or at the end
    everything.max_open = SIZE_MAX;
    everything.max_warnings = SIZE_MAX;
    NftraceTextStream stream([&](NftraceTrace&& t) { log.traces.push_back(std::move(t)); }, std::string(source),
                             everything);
    stream.feed(text);
    Result<void> done = stream.finish();
    if (!done) return done;
    log.warnings = stream.stats().warnings;
    log.lines = stream.stats().lines;
    log.ignored_lines = stream.stats().ignored_lines;
    return log;
}

Result<NftraceLog> parse_nftrace_text(std::istream& in, std::string_view source) {
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    return parse_nftrace_text(text, source);
}

} // namespace wgbpf
