#pragma once
// Netfilter steps and drops for people (one text line each) and programs (JSON objects,
// `"kind": "netfilter"` and `"kind": "drop"`, docs/json-schema.md).
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "netfilter/netfilter_step.hpp"
#include "render/packet_render.hpp"
#include "render/paint.hpp"
#include "render/route_render.hpp"

namespace wgbpf {

// "19:41:07.112233  nf     postrouting  ip wg-quick-wg0 postmangle (prio -150)  accept  ct mark 0x0 -> 0xca6c
//  ct state new  [udp ...]", then indented "set by:" candidates and notes.
std::string render_netfilter_text(const NetfilterStep& s, const TextStyle& style);
void write_netfilter_json(JsonWriter& w, const NetfilterStep& s, const LinkName& link_name = {});

// The connection's mark as far as it is known: "ct mark 0x0 -> 0xca6c" (a change, seen on both sides),
// "ct not yet tracked" (a chain before conntrack), the mark conntrack found within the step, or "".
std::string ct_mark_text(const NetfilterStep& s, const paint::Paint& paint);
// "ip wg-quick-wg0 postmangle (prio -150)", with the chains sharing its span.
std::string chain_text(const NetfilterStep& s);
// nftrace's part, when merged: `rule #12 "ct mark set meta mark" (trace 6ca3695d)`, `policy (trace ...)`;
// "" without a trace. Then one `traced: rule #4 "..." -> continue` line per other traced rule.
std::string decider_text(const NetfilterStep& s);
std::vector<std::string> traced_rule_lines(const NetfilterStep& s);
std::string trace_id_text(uint32_t id); // 8 hex digits, as nft prints it

// Terminal colour for a verdict: accept green, drop red, unknown dim, others yellow.
const char* verdict_colour(NfVerdict verdict);

// "19:41:07.112233  drop   NETFILTER_DROP at nft_do_chain+0x3f2 (inet filter output)  [udp ...]"
std::string render_drop_text(const DropStep& d, const TextStyle& style);
void write_drop_json(JsonWriter& w, const DropStep& d, const LinkName& link_name = {});

} // namespace wgbpf
