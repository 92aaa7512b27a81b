#include "record/recording_frames.hpp"

#include "common/version.hpp"

#include <sys/utsname.h>
#include <time.h>

#include "snapshot_parse.hpp"
#include "common/clock.hpp"
#include "record/snapshot_json.hpp"

namespace wgbpf {
namespace {

using nlohmann::json;
using record_detail::JsonIn;

// Names from the kernel or the ruleset may hold bytes that are not UTF-8: replaced, never a throw.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Parses a frame's JSON and runs `parse` over it; every failure becomes "WHAT frame: PROBLEM".
template <typename T, typename Parse>
Result<T> decode(std::span<const std::byte> payload, const std::string& what, Parse parse) {
    const char* text = reinterpret_cast<const char*>(payload.data());
    json j = json::parse(text, text + payload.size(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return Error{what + " frame: not valid JSON"};
    return record_detail::read_json<T>(j, what + " frame", parse);
}

std::map<uint32_t, std::string> number_names(const JsonIn& j) {
    std::map<uint32_t, std::string> out;
    for (const auto& [key, name] : j.members()) out[JsonIn::key_number<uint32_t>(name, key)] = name.string();
    return out;
}

json names_json(const std::map<uint32_t, std::string>& names) {
    json out = json::object();
    for (const auto& [number, name] : names) out[std::to_string(number)] = name;
    return out;
}

const char* kind_name(NftraceKind k) {
    switch (k) {
    case NftraceKind::packet: return "packet";
    case NftraceKind::rule: return "rule";
    case NftraceKind::verdict: return "verdict";
    case NftraceKind::policy: return "policy";
    case NftraceKind::unknown: break;
    }
    return "unknown";
}

NftraceKind kind_from(const std::string& name) {
    for (NftraceKind k : {NftraceKind::packet, NftraceKind::rule, NftraceKind::verdict, NftraceKind::policy})
        if (name == kind_name(k)) return k;
    return NftraceKind::unknown;
}

template <typename T>
json opt(const std::optional<T>& v) {
    return v ? json(*v) : json(nullptr);
}

json traced_packet_json(const NftracePacket& p) {
    return {{"iif", p.iif},
            {"oif", p.oif},
            {"family", p.family ? json(int(*p.family)) : json(nullptr)},
            {"saddr", p.saddr ? json(p.saddr->to_string()) : json(nullptr)},
            {"daddr", p.daddr ? json(p.daddr->to_string()) : json(nullptr)},
            {"ip_id", opt(p.ip_id)},
            {"length", opt(p.length)},
            {"l4proto", opt(p.l4proto)},
            {"sport", opt(p.sport)},
            {"dport", opt(p.dport)},
            {"icmp_type", opt(p.icmp_type)},
            {"icmp_code", opt(p.icmp_code)},
            {"icmp_id", opt(p.icmp_id)},
            {"icmp_sequence", opt(p.icmp_sequence)}};
}

template <typename T>
std::optional<T> maybe_uint(const JsonIn& j, const char* key) {
    auto v = j.maybe(key);
    return v ? std::optional<T>(v->unsigned_int<T>()) : std::nullopt;
}

NftracePacket traced_packet_from(const JsonIn& j) {
    NftracePacket p;
    p.iif = j.at("iif").string();
    p.oif = j.at("oif").string();
    if (auto f = j.maybe("family")) p.family = f->family();
    if (auto a = j.maybe("saddr")) p.saddr = a->address();
    if (auto a = j.maybe("daddr")) p.daddr = a->address();
    p.ip_id = maybe_uint<uint16_t>(j, "ip_id");
    p.length = maybe_uint<uint16_t>(j, "length");
    p.l4proto = maybe_uint<uint8_t>(j, "l4proto");
    p.sport = maybe_uint<uint16_t>(j, "sport");
    p.dport = maybe_uint<uint16_t>(j, "dport");
    p.icmp_type = maybe_uint<uint8_t>(j, "icmp_type");
    p.icmp_code = maybe_uint<uint8_t>(j, "icmp_code");
    p.icmp_id = maybe_uint<uint16_t>(j, "icmp_id");
    p.icmp_sequence = maybe_uint<uint16_t>(j, "icmp_sequence");
    return p;
}

} // namespace

RecordingHeader RecordingHeader::for_this_process(std::vector<std::string> command_line) {
    RecordingHeader h;
    h.wgbpf_version = std::string(::wgbpf::wgbpf_version());
    h.created_unix_s = time(nullptr);
    utsname u{};
    if (uname(&u) == 0) h.kernel_release = u.release;
    h.command_line = std::move(command_line);
    h.realtime_offset_ns = int64_t(clock_ns(CLOCK_REALTIME)) - int64_t(clock_ns(CLOCK_MONOTONIC));
    return h;
}

std::string encode_frame(const RecordingHeader& h) {
    return dump({{"wgbpf_version", h.wgbpf_version},
                 {"created_unix_s", h.created_unix_s},
                 {"kernel_release", h.kernel_release},
                 {"command_line", h.command_line},
                 {"realtime_offset_ns", h.realtime_offset_ns},
                 {"snaplen", h.snaplen}});
}

std::string encode_frame(const ConfigSnapshot& c) {
    return encode_config_frame(c, c.route_changes ? &*c.route_changes : nullptr);
}

std::string encode_config_frame(const ConfigSnapshot& c, const RouteChanges* route_changes) {
    nlohmann::json j{{"netns", c.netns},
                     {"config", netns_config_to_json(c.config, !route_changes)},
                     {"wireguard", wireguard_to_json(c.wireguard)}};
    if (route_changes) j["route_changes"] = record_detail::route_changes_json(*route_changes);
    if (!c.name.empty()) j["name"] = c.name;
    return dump(j);
}

std::string encode_frame(const PlanSnapshot& p) {
    return dump({{"netns", p.netns}, {"plan", bracket_plan_to_json(p.plan)}});
}

std::string encode_frame(const RecordingNames& n) {
    return dump({{"drop_reasons", names_json(n.drop_reasons)}, {"symbols", names_json(n.symbols)}});
}

std::string encode_frame(const LostEvents& l) {
    return dump({{"module", name_of(l.module)}, {"count", l.count}, {"known_at_ns", l.known_at_ns}});
}

std::string encode_frame(const RecordingEnd& e) {
    return dump({{"seconds", e.seconds},
                 {"events", e.events},
                 {"unrecordable", e.unrecordable},
                 {"modules", modules_json(e.modules)}});
}

std::string encode_frame(const NftraceEvent& e) {
    return dump({{"trace_id", e.trace_id},
                 {"family", e.family},
                 {"table", e.table},
                 {"chain", e.chain},
                 {"kind", kind_name(e.kind)},
                 {"rule_handle", opt(e.rule_handle)},
                 {"rule", e.rule},
                 {"verdict", e.verdict},
                 {"mark", opt(e.mark)},
                 {"ct_mark", opt(e.ct_mark)},
                 {"ct_state", e.ct_state},
                 {"packet", e.packet ? traced_packet_json(*e.packet) : json(nullptr)},
                 {"t_ns", e.t_ns}});
}

Result<RecordingHeader> decode_header_frame(std::span<const std::byte> payload) {
    return decode<RecordingHeader>(payload, "header", [](const JsonIn& j) {
        RecordingHeader h;
        h.wgbpf_version = j.at("wgbpf_version").string();
        h.created_unix_s = j.at("created_unix_s").signed_int<int64_t>();
        h.kernel_release = j.at("kernel_release").string();
        h.command_line = j.at("command_line").strings();
        h.realtime_offset_ns = j.at("realtime_offset_ns").signed_int<int64_t>();
        if (j.raw().contains("snaplen")) h.snaplen = j.at("snaplen").unsigned_int<uint32_t>();
        return h;
    });
}

Result<ConfigSnapshot> decode_config_frame(std::span<const std::byte> payload) {
    return decode<ConfigSnapshot>(payload, "config", [](const JsonIn& j) {
        ConfigSnapshot c;
        c.netns = j.at("netns").unsigned_int<uint32_t>();
        auto changes = j.maybe("route_changes");
        c.config = record_detail::parse_netns_config(j.at("config"), !changes);
        if (changes) c.route_changes = record_detail::parse_route_changes(*changes);
        c.config.netns_inode = c.netns;
        c.wireguard = record_detail::parse_wireguard(j.at("wireguard"));
        if (auto name = j.maybe("name")) c.name = name->string();
        return c;
    });
}

Result<PlanSnapshot> decode_plan_frame(std::span<const std::byte> payload) {
    return decode<PlanSnapshot>(payload, "plan", [](const JsonIn& j) {
        return PlanSnapshot{j.at("netns").unsigned_int<uint32_t>(), record_detail::parse_bracket_plan(j.at("plan"))};
    });
}

Result<RecordingNames> decode_names_frame(std::span<const std::byte> payload) {
    return decode<RecordingNames>(payload, "names", [](const JsonIn& j) {
        return RecordingNames{number_names(j.at("drop_reasons")), number_names(j.at("symbols"))};
    });
}

namespace {

ModuleId module_named(const JsonIn& j) {
    auto m = parse_enum<ModuleId>(j.string());
    if (!m) j.fail("expected a module name (route, netfilter, drop, device, wireguard)");
    return *m;
}

} // namespace

Result<LostEvents> decode_lost_frame(std::span<const std::byte> payload) {
    return decode<LostEvents>(payload, "lost", [](const JsonIn& j) {
        LostEvents l{module_named(j.at("module")), j.at("count").unsigned_int<uint64_t>()};
        if (j.raw().contains("known_at_ns")) l.known_at_ns = j.at("known_at_ns").unsigned_int<uint64_t>();
        return l;
    });
}

Result<RecordingEnd> decode_end_frame(std::span<const std::byte> payload) {
    return decode<RecordingEnd>(payload, "end", [](const JsonIn& j) {
        RecordingEnd e;
        const JsonIn seconds = j.at("seconds");
        if (!seconds.raw().is_number() || seconds.raw().get<double>() < 0)
            seconds.fail("expected seconds, a number >= 0");
        e.seconds = seconds.raw().get<double>();
        e.events = j.at("events").unsigned_int<uint64_t>();
        e.unrecordable = j.at("unrecordable").unsigned_int<uint64_t>();
        for (const JsonIn& m : j.at("modules").items())
            e.modules.push_back(ModuleStatus{module_named(m.at("name")), m.at("running").boolean(),
                                             m.at("flavour").string(), m.at("notes").strings(),
                                             m.at("events").unsigned_int<uint64_t>(),
                                             m.at("lost").unsigned_int<uint64_t>()});
        return e;
    });
}

Result<NftraceEvent> decode_nftrace_frame(std::span<const std::byte> payload) {
    return decode<NftraceEvent>(payload, "nftrace", [](const JsonIn& j) {
        NftraceEvent e;
        e.trace_id = j.at("trace_id").unsigned_int<uint32_t>();
        e.family = j.at("family").string();
        e.table = j.at("table").string();
        e.chain = j.at("chain").string();
        e.kind = kind_from(j.at("kind").string());
        e.rule_handle = maybe_uint<uint64_t>(j, "rule_handle");
        e.rule = j.at("rule").string();
        e.verdict = j.at("verdict").string();
        e.mark = maybe_uint<uint32_t>(j, "mark");
        e.ct_mark = maybe_uint<uint32_t>(j, "ct_mark");
        e.ct_state = j.at("ct_state").string();
        if (auto p = j.maybe("packet")) e.packet = traced_packet_from(*p);
        e.t_ns = j.at("t_ns").unsigned_int<uint64_t>();
        return e;
    });
}

} // namespace wgbpf
