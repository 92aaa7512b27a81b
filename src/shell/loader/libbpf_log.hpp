#pragma once
// libbpf's own messages go to spdlog: warnings always, debug output only with -v.
namespace wgbpf {
void route_libbpf_log_to_spdlog(bool verbose);
}
