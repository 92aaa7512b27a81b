// BracketPlan <-> JSON: the placement that numbered the bracket events of one generation.
#include "snapshot_parse.hpp"
#include "record/snapshot_json.hpp"

namespace wgbpf {
using nlohmann::json;

namespace record_detail {

BracketPlan parse_bracket_plan(const JsonIn& j) {
    BracketPlan p;
    p.generation = j.at("generation").unsigned_int<uint32_t>();
    for (const JsonIn& b : j.at("brackets").items()) {
        uint8_t hook = b.at("hook").unsigned_int<uint8_t>();
        if (hook > uint8_t(NfHook::ingress)) b.at("hook").fail("expected a netfilter hook number (0-5)");
        p.brackets.push_back(
            Bracket{b.at("pf").unsigned_int<uint8_t>(), NfHook(hook), b.at("priority").signed_int<int32_t>()});
    }
    for (const JsonIn& s : j.at("spans").items()) {
        BracketSpan span;
        span.before = s.at("before").unsigned_int<uint32_t>();
        span.after = s.at("after").unsigned_int<uint32_t>();
        for (const JsonIn& m : s.at("members").items()) {
            BracketSpan::Member member{m.at("family").string(), m.at("table").string(), m.at("chain").string(),
                                       m.at("priority").signed_int<int32_t>(), m.at("legacy").boolean()};
            // Since version 0.3: recordings before it name NAT chains by their NAT hook's priority.
            auto nat = m.maybe("nat");
            member.nat = nat && nat->boolean();
            auto own = m.maybe("chain_priority");
            if (own) member.chain_priority = own->signed_int<int32_t>();
            span.members.push_back(std::move(member));
        }
        p.spans.push_back(std::move(span));
    }
    p.notes = j.at("notes").strings();
    return p;
}

} // namespace record_detail

json bracket_plan_to_json(const BracketPlan& p) {
    json brackets = json::array(), spans = json::array();
    for (const Bracket& b : p.brackets)
        brackets.push_back({{"pf", b.pf}, {"hook", uint8_t(b.hook)}, {"priority", b.priority}});
    for (const BracketSpan& s : p.spans) {
        json members = json::array();
        for (const BracketSpan::Member& m : s.members)
            members.push_back({{"family", m.family},
                               {"table", m.table},
                               {"chain", m.chain},
                               {"priority", m.priority},
                               {"legacy", m.legacy},
                               {"nat", m.nat},
                               {"chain_priority", m.chain_priority ? json(*m.chain_priority) : json(nullptr)}});
        spans.push_back({{"before", s.before}, {"after", s.after}, {"members", members}});
    }
    return {{"generation", p.generation}, {"brackets", brackets}, {"spans", spans}, {"notes", p.notes}};
}

Result<BracketPlan> bracket_plan_from_json(const json& j) {
    return record_detail::read_json<BracketPlan>(j, "bracket plan", record_detail::parse_bracket_plan);
}

} // namespace wgbpf
