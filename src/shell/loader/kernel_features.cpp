#include "loader/kernel_features.hpp"

#include "common/unique_fd.hpp"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

#include "loader/libbpf_raii.hpp"

namespace wgbpf {
namespace {

class RunningKernel : public KernelFeatures {
public:
    RunningKernel() : vmlinux_(btf__load_vmlinux_btf()) {}

    bool has_tracepoint(const std::string& name) const override {
        return vmlinux_ && btf__find_by_name_kind(vmlinux_.get(), ("btf_trace_" + name).c_str(), BTF_KIND_TYPEDEF) > 0;
    }

    std::optional<int> function_arg_count(const std::string& name, const std::string& module) const override {
        const btf* b = module.empty() ? vmlinux_.get() : module_btf(module);
        if (!b) return std::nullopt;
        int id = btf__find_by_name_kind(b, name.c_str(), BTF_KIND_FUNC);
        if (id <= 0) return std::nullopt;
        const btf_type* func = btf__type_by_id(b, id);
        const btf_type* proto = btf__type_by_id(b, func->type);
        if (!proto || !btf_is_func_proto(proto)) return std::nullopt;
        return btf_vlen(proto);
    }

    std::optional<int> tracepoint_arg_count(const std::string& name) const override {
        if (!vmlinux_) return std::nullopt;
        int id = btf__find_by_name_kind(vmlinux_.get(), ("btf_trace_" + name).c_str(), BTF_KIND_TYPEDEF);
        if (id <= 0) return std::nullopt;
        const btf_type* t = btf__type_by_id(vmlinux_.get(), id);
        while (t && (btf_is_typedef(t) || btf_is_ptr(t))) t = btf__type_by_id(vmlinux_.get(), t->type);
        if (!t || !btf_is_func_proto(t)) return std::nullopt;
        return btf_vlen(t) - 1; // the first parameter is the context pointer
    }

    // Loads a probe program: asked once (the module table and the probe both ask).
    std::optional<std::string> netfilter_link_refused() const override {
        std::call_once(netfilter_once_, [this] {
            if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_NETFILTER, nullptr) != 1)
                netfilter_refusal_ = "BPF netfilter links are not supported by this kernel (Linux 6.4+)";
        });
        return netfilter_refusal_;
    }

    std::optional<std::string> fexit_refused() const override {
        std::call_once(fexit_once_, [this] { fexit_refusal_ = try_fexit(); });
        return fexit_refusal_;
    }

    // libbpf attaches kprobes through the kprobe PMU; kernels without CONFIG_KPROBES have none.
    std::optional<std::string> kprobe_refused() const override {
        if (access("/sys/bus/event_source/devices/kprobe/type", F_OK) == 0) return std::nullopt;
        return "this kernel has no kprobes (no /sys/bus/event_source/devices/kprobe)";
    }

private:
    // Module BTF (e.g. nf_tables, wireguard) when the module is loaded; cached.
    const btf* module_btf(const std::string& module) const {
        std::lock_guard lock(modules_mutex_);
        auto it = modules_.find(module);
        if (it == modules_.end()) {
            btf* b = vmlinux_ ? btf__load_module_btf(module.c_str(), vmlinux_.get()) : nullptr;
            it = modules_.emplace(module, BtfPtr(b)).first;
        }
        return it->second.get();
    }

    // Loads a trivial fexit program on a function every kernel has; the kernel's answer is the truth
    // (some kernels forbid ftrace direct calls and return EPERM even to root).
    std::optional<std::string> try_fexit() const {
        if (!vmlinux_) return "no kernel BTF (/sys/kernel/btf/vmlinux)";
        int target = btf__find_by_name_kind(vmlinux_.get(), "fib_table_lookup", BTF_KIND_FUNC);
        if (target <= 0) return "fib_table_lookup not in kernel BTF";
        const bpf_insn insns[] = {
            {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = 0},
            {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
        };
        LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FEXIT,
                    .attach_btf_id = static_cast<__u32>(target));
        UniqueFd prog(bpf_prog_load(BPF_PROG_TYPE_TRACING, "wgbpf_fexit_probe", "GPL", insns, 2, &opts));
        if (!prog.valid()) {
            int err = errno;
            return fmt::format("fexit refused by this kernel ({}: {})", strerrorname(err), std::strerror(err));
        }
        // Loading is not enough on kernels without ftrace direct calls: attach too.
        UniqueFd link(bpf_link_create(prog.get(), 0, BPF_TRACE_FEXIT, nullptr));
        if (!link.valid()) {
            int err = errno;
            return fmt::format("fexit attach refused by this kernel ({}: {})", strerrorname(err), std::strerror(err));
        }
        return std::nullopt;
    }

    static const char* strerrorname(int err) {
        switch (err) {
        case EPERM: return "EPERM";
        case EINVAL: return "EINVAL";
        case ENOTSUPP_: return "ENOTSUPP";
        case EOPNOTSUPP: return "EOPNOTSUPP";
        case ENOENT: return "ENOENT";
        case E2BIG: return "E2BIG";
        default: return "errno";
        }
    }
    static constexpr int ENOTSUPP_ = 524;

    BtfPtr vmlinux_;
    mutable std::mutex modules_mutex_;
    mutable std::map<std::string, BtfPtr> modules_;
    mutable std::once_flag fexit_once_;
    mutable std::optional<std::string> fexit_refusal_;
    mutable std::once_flag netfilter_once_;
    mutable std::optional<std::string> netfilter_refusal_;
};

} // namespace

std::unique_ptr<KernelFeatures> probe_running_kernel() { return std::make_unique<RunningKernel>(); }

namespace {

class WithoutFexit : public KernelFeatures {
public:
    WithoutFexit(std::unique_ptr<KernelFeatures> kernel, std::string why)
        : k_(std::move(kernel)), why_(std::move(why)) {}
    bool has_tracepoint(const std::string& n) const override { return k_->has_tracepoint(n); }
    std::optional<int> function_arg_count(const std::string& n, const std::string& m) const override {
        return k_->function_arg_count(n, m);
    }
    std::optional<int> tracepoint_arg_count(const std::string& n) const override { return k_->tracepoint_arg_count(n); }
    std::optional<std::string> netfilter_link_refused() const override { return k_->netfilter_link_refused(); }
    std::optional<std::string> fexit_refused() const override { return why_; }
    std::optional<std::string> kprobe_refused() const override { return k_->kprobe_refused(); }

private:
    std::unique_ptr<KernelFeatures> k_;
    std::string why_;
};

} // namespace

std::unique_ptr<KernelFeatures> without_fexit(std::unique_ptr<KernelFeatures> kernel, std::string why) {
    return std::make_unique<WithoutFexit>(std::move(kernel), std::move(why));
}

} // namespace wgbpf
