#include "nftrace/trace_table_name.hpp"

#include <algorithm>

namespace wgbpf {

std::string trace_table_name(pid_t pid) { return std::string(kTraceTablePrefix) + std::to_string(pid); }

bool is_wgbpf_trace_table(std::string_view table) { return table.starts_with(kTraceTablePrefix); }

void remove_wgbpf_trace_tables(NftRuleset& ruleset) {
    std::erase_if(ruleset.tables, [&](const NftTable& t) {
        bool ours = t.family == "inet" && is_wgbpf_trace_table(t.name);
        if (ours) ruleset.hidden_tables.push_back(t.handle);
        return ours;
    });
    std::erase_if(ruleset.chains,
                  [](const NftChain& c) { return c.family == "inet" && is_wgbpf_trace_table(c.table); });
}

} // namespace wgbpf
