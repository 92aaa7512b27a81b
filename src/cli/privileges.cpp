#include "privileges.hpp"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace wgbpf {

std::vector<std::string> missing_capabilities() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (syscall(SYS_capget, &header, data) != 0) return {"(cannot read capabilities)"};
    uint64_t effective = (uint64_t(data[1].effective) << 32) | data[0].effective;
    struct Need {
        int cap;
        const char* name;
    };
    const Need needs[] = {{38 /* CAP_PERFMON */, "CAP_PERFMON"},
                          {39 /* CAP_BPF */, "CAP_BPF"},
                          {CAP_NET_ADMIN, "CAP_NET_ADMIN"},
                          {CAP_SYS_ADMIN, "CAP_SYS_ADMIN"}};
    std::vector<std::string> missing;
    for (const Need& n : needs)
        if (!(effective & (uint64_t(1) << n.cap))) missing.push_back(n.name);
    return missing;
}

} // namespace wgbpf
