#pragma once
// The name of wgbpf's own trace table (`inet wgbpf_trace_<pid>`), and how to recognise one: wgbpf never
// shows its own tables as part of the user's ruleset, nor reports the trace events they produce.
#include <string>
#include <string_view>
#include <sys/types.h>

#include "config/nft_ruleset.hpp"

namespace wgbpf {

inline constexpr std::string_view kTraceTablePrefix = "wgbpf_trace_";

std::string trace_table_name(pid_t pid);
// Any wgbpf process's trace table (another instance's too: it is as little the user's as ours).
bool is_wgbpf_trace_table(std::string_view table);
// Leaves wgbpf's trace tables and their chains out of a ruleset read from the kernel: they are not bracketed,
// not stepped, not recorded as the user's.
void remove_wgbpf_trace_tables(NftRuleset& ruleset);

} // namespace wgbpf
