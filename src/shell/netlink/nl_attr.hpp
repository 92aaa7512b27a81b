#pragma once
// Netlink attribute iteration for C++ (libmnl's mnl_attr_for_each* macros assign void* and only compile as C).
#include <libmnl/libmnl.h>

#include <cstddef>

namespace wgbpf {

// Calls f(const nlattr*) for each well-formed attribute in [data, data+len); f returns false to abort.
// Returns false if f aborted.
template <typename F>
bool for_each_attr(const void* data, size_t len, F&& f) {
    const char* end = static_cast<const char*>(data) + len;
    for (const nlattr* a = static_cast<const nlattr*>(data);
         mnl_attr_ok(a, static_cast<int>(end - reinterpret_cast<const char*>(a))); a = mnl_attr_next(a))
        if (!f(a)) return false;
    return true;
}

template <typename F>
bool for_each_nested(const nlattr* nest, F&& f) {
    return for_each_attr(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), f);
}

// The attributes after a message's fixed header of `header_size` bytes.
template <typename F>
bool for_each_attr(const nlmsghdr* nlh, size_t header_size, F&& f) {
    const char* start = static_cast<const char*>(mnl_nlmsg_get_payload_offset(nlh, header_size));
    const char* end = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
    if (end < start) return true;
    return for_each_attr(start, static_cast<size_t>(end - start), f);
}

} // namespace wgbpf
