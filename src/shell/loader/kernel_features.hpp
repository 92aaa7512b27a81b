#pragma once
// What the running kernel offers, asked once. An interface so that flavour selection is unit-tested
// against fake kernels (the real one is this machine's; the VM tests cover stock kernels).
#include <memory>
#include <optional>
#include <string>

namespace wgbpf {

class KernelFeatures {
public:
    virtual ~KernelFeatures() = default;
    // A BTF-enabled tracepoint exists (btf_trace_<name> in vmlinux BTF).
    virtual bool has_tracepoint(const std::string& name) const = 0;
    // Number of arguments of a kernel function in BTF (vmlinux, or the named module's BTF), nullopt if absent.
    virtual std::optional<int> function_arg_count(const std::string& name, const std::string& module = "") const = 0;
    // Number of arguments a tracepoint passes (btf_trace_<name>, without the context pointer).
    virtual std::optional<int> tracepoint_arg_count(const std::string& name) const = 0;
    // Whether BPF netfilter links (BPF_PROG_TYPE_NETFILTER, 6.4+) load here; if not, why.
    virtual std::optional<std::string> netfilter_link_refused() const = 0;
    // Whether fentry/fexit programs load here; if not, why.
    virtual std::optional<std::string> fexit_refused() const = 0;
    // Whether kprobes can be attached here; if not, why.
    virtual std::optional<std::string> kprobe_refused() const = 0;
};

std::unique_ptr<KernelFeatures> probe_running_kernel();

// The same kernel, with fentry/fexit refused for `why` (e.g. the user's --no-fexit): flavours fall back to
// kprobes and tracepoints.
std::unique_ptr<KernelFeatures> without_fexit(std::unique_ptr<KernelFeatures> kernel, std::string why);

} // namespace wgbpf
