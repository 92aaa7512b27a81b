#pragma once
// Parses two listings libnftables prints into an NftRuleset: `list chains` as JSON (hook, numeric
// priority, type and policy of every chain) and `list ruleset` as text with handles (tables, their
// flags, and each rule's handle and text exactly as nft prints it, its comment split off). Pure: no root.
//
// Not `list ruleset` as JSON: nft 1.0.6 (Debian 12) frees a table's "flags" string too early when a
// table has exactly one flag (fixed upstream in 2023, "json: fix use after free in table_flags_json()"),
// which garbles the output and the heap of whoever calls it. `list chains` prints no tables.
#include <string_view>

#include "common/result.hpp"
#include "config/nft_ruleset.hpp"

namespace wgbpf {

// Both listings must come from the same ruleset generation: a chain found in only one is an error, as is
// malformed or truncated input. `legacy` is left empty (it is in neither listing).
Result<NftRuleset> parse_nft_ruleset(std::string_view chains_json, std::string_view text_with_handles);

} // namespace wgbpf
