#include "render/compare_render.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cctype>

#include "render/packet_render.hpp"
#include "render/route_render.hpp"

namespace wgbpf {
namespace {

std::string trace_id_text(uint32_t id) { return fmt::format("{:08x}", id); } // as nft prints it

std::string status(const ChainAlignment& row) {
    if (!row.disagree.empty()) return "DISAGREE";
    switch (row.side) {
    case ChainSide::both: return "both";
    case ChainSide::only_nftrace: return "only nftrace";
    case ChainSide::only_wgbpf: return "only wgbpf";
    }
    return "";
}
// "both", "disagree", "only_nftrace", "only_wgbpf": the text's words as JSON spells them.
std::string status_json(const ChainAlignment& row) {
    std::string s = status(row);
    for (char& c : s) c = c == ' ' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string nftrace_side(const NftraceChainVisit& v) {
    std::string s = "nftrace " + (v.verdict.empty() ? std::string("?") : v.verdict);
    if (v.mark_after && *v.mark_after) s += fmt::format("  mark 0x{:x}", *v.mark_after);
    return s;
}
std::string wgbpf_side(const NetfilterStep& s) {
    std::string out = "wgbpf " + std::string(name_of(s.verdict));
    if (s.mark_after) out += fmt::format("  mark 0x{:x}", s.mark_after);
    return out;
}

std::string header(const TraceMatch& m) {
    std::string left = m.trace ? fmt::format("trace {} (line {})", trace_id_text(m.trace->id),
                                             m.trace->events.empty() ? 0 : m.trace->events.front().line)
                               : std::string("no trace");
    if (m.timeline) return fmt::format("{} <-> #{} {}", left, m.timeline->id, packet_text(m.timeline->pkt));
    const NftracePacket* p = nullptr;
    for (const NftraceEvent& e : m.trace->events)
        if (e.packet) {
            p = &*e.packet;
            break;
        }
    return fmt::format("{} <-> no wgbpf packet{}", left,
                       p ? ": " + nftrace_packet_text(*p) + " (as nftrace shows it)" : "");
}

} // namespace

std::string nftrace_packet_text(const NftracePacket& p) {
    Family family = p.family.value_or(Family::ipv4);
    std::string proto = p.l4proto ? proto_name(*p.l4proto, family) : std::string("ip");
    bool ports = p.sport || p.dport;
    auto end = [&](const std::optional<IpAddress>& a, const std::optional<uint16_t>& port) {
        std::string addr = a ? a->to_string() : "?";
        if (!ports) return addr;
        std::string n = port ? std::to_string(*port) : "?";
        return family == Family::ipv6 ? fmt::format("[{}]:{}", addr, n) : fmt::format("{}:{}", addr, n);
    };
    std::string s = fmt::format("{} {} -> {}", proto, end(p.saddr, p.sport), end(p.daddr, p.dport));
    if (p.icmp_type && p.l4proto) s += " " + icmp_type_text(*p.l4proto, *p.icmp_type, p.icmp_code.value_or(0));
    return s;
}

std::string render_compare_blocks_text(const Comparison& c) {
    std::string out;
    auto block = [&](const TraceMatch& m) {
        out += header(m) + "\n";
        uint64_t own = m.timeline ? m.timeline->id : 0;
        for (const ChainAlignment& row : m.chains) {
            std::string line =
                fmt::format("   {:<13} {:<32} {:<28} {}", status(row), row.chain,
                            row.nftrace ? nftrace_side(*row.nftrace) : "", row.wgbpf ? wgbpf_side(*row.wgbpf) : "");
            if (row.packet && row.packet != own) line += fmt::format("  (#{})", row.packet);
            if (!row.disagree.empty()) line += "  differs: " + fmt::format("{}", fmt::join(row.disagree, ", "));
            if (!row.note.empty()) line += "  (" + row.note + ")";
            while (!line.empty() && line.back() == ' ') line.pop_back();
            out += line + "\n";
        }
        for (const std::string& note : m.notes) out += "   note: " + note + "\n";
    };
    for (const TraceMatch& m : c.traces) block(m);
    for (const TraceMatch& m : c.only_wgbpf) block(m);
    return out;
}

std::string render_compare_summary_text(const CompareTotals& t) {
    std::string out = fmt::format("summary: {} traces, {} matched, {} only in nftrace, {} wgbpf packets with netfilter "
                                  "steps and no trace, {} disagreements\n",
                                  t.traces, t.matched, t.only_nftrace, t.only_wgbpf, t.disagreement_count);
    if (t.not_compared)
        out += fmt::format("   {} wgbpf packets with netfilter steps not compared: no trace came for them while they "
                           "waited among the last {}\n",
                           t.not_compared, t.window);
    for (const Disagreement& d : t.disagreements)
        out += fmt::format("   DISAGREE trace {} #{} {}: {}: nftrace {}, wgbpf {}\n", trace_id_text(d.trace_id),
                           d.packet, d.chain, d.what, d.nftrace, d.wgbpf);
    if (t.disagreement_count > t.disagreements.size())
        out += fmt::format("   ... and {} more disagreements (shown with their traces above)\n",
                           t.disagreement_count - t.disagreements.size());
    return out;
}

std::string render_compare_text(const Comparison& c) {
    return render_compare_blocks_text(c) + render_compare_summary_text(totals_of(c));
}

nlohmann::json compare_match_json(const TraceMatch& m) {
    nlohmann::json j;
    j["kind"] = "compare";
    j["trace_id"] = m.trace ? nlohmann::json(trace_id_text(m.trace->id)) : nlohmann::json(nullptr);
    j["line"] =
        m.trace && !m.trace->events.empty() ? nlohmann::json(m.trace->events.front().line) : nlohmann::json(nullptr);
    j["packet"] = m.timeline ? nlohmann::json(m.timeline->id) : nlohmann::json(nullptr);
    j["chains"] = nlohmann::json::array();
    for (const ChainAlignment& row : m.chains) {
        nlohmann::json r;
        r["status"] = status_json(row);
        r["chain"] = row.chain;
        r["packet"] = row.packet ? nlohmann::json(row.packet) : nlohmann::json(nullptr);
        if (row.nftrace) {
            const NftraceChainVisit& v = *row.nftrace;
            r["nftrace"] = {{"verdict", v.verdict.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.verdict)},
                            {"mark", v.mark_after ? nlohmann::json(*v.mark_after) : nlohmann::json(nullptr)},
                            {"ct_state", v.ct_state.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.ct_state)},
                            {"line", v.line}};
        } else {
            r["nftrace"] = nullptr;
        }
        if (row.wgbpf) {
            const NetfilterStep& s = *row.wgbpf;
            r["wgbpf"] = {{"hook", hook_name(s.hook)},
                          {"verdict", name_of(s.verdict)},
                          {"mark_before", s.mark_before},
                          {"mark_after", s.mark_after},
                          {"exact", s.exact},
                          {"t_ns", s.t_ns}};
        } else {
            r["wgbpf"] = nullptr;
        }
        r["disagree"] = row.disagree;
        r["note"] = row.note.empty() ? nlohmann::json(nullptr) : nlohmann::json(row.note);
        j["chains"].push_back(std::move(r));
    }
    j["notes"] = m.notes;
    return j;
}

nlohmann::json compare_totals_json(const CompareTotals& t) {
    nlohmann::json j;
    j["kind"] = "summary";
    j["traces"] = t.traces;
    j["matched"] = t.matched;
    j["only_nftrace"] = t.only_nftrace;
    j["only_wgbpf"] = t.only_wgbpf;
    j["not_compared"] = t.not_compared;
    j["disagreements"] = nlohmann::json::array();
    for (const Disagreement& d : t.disagreements)
        j["disagreements"].push_back({{"trace_id", trace_id_text(d.trace_id)},
                                      {"packet", d.packet},
                                      {"chain", d.chain},
                                      {"what", d.what},
                                      {"nftrace", d.nftrace},
                                      {"wgbpf", d.wgbpf}});
    j["disagreements_not_listed"] = t.disagreement_count - t.disagreements.size();
    return j;
}

nlohmann::json compare_summary_json(const Comparison& c) { return compare_totals_json(totals_of(c)); }

std::string compare_json_line(const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string render_compare_blocks_json(const Comparison& c) {
    std::string out;
    for (const TraceMatch& m : c.traces) out += compare_json_line(compare_match_json(m));
    for (const TraceMatch& m : c.only_wgbpf) out += compare_json_line(compare_match_json(m));
    return out;
}

std::string render_compare_json(const Comparison& c) {
    return render_compare_blocks_json(c) + compare_json_line(compare_summary_json(c));
}

} // namespace wgbpf
