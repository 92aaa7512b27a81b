#pragma once
// iproute2's routing table names (rt_tables and rt_tables.d/*.conf), so output can say "main" or "wg".
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace wgbpf {

// Pure: adds the "NUMBER NAME" lines of one rt_tables file (decimal or 0x hex, '#' comments) to `out`.
void parse_rt_tables(std::string_view text, std::map<uint32_t, std::string>& out);

// Built-ins, then /usr/share/iproute2 (the distribution's), then /etc/iproute2 (the admin's) overriding.
std::map<uint32_t, std::string> read_rt_tables();

} // namespace wgbpf
