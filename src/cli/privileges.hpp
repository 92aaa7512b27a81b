#pragma once
// wgbpf needs CAP_BPF + CAP_PERFMON (load and attach), CAP_NET_ADMIN (netlink, netfilter links) and
// CAP_SYS_ADMIN (setns into other namespaces). Checked up front so the user gets one clear sentence.
#include <string>
#include <vector>

namespace wgbpf {

std::vector<std::string> missing_capabilities(); // empty when all are there
}
