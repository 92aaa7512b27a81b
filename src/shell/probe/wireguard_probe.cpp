#include "probe/wireguard_probe.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "wireguard.skel.h"
#include "loader/libbpf_raii.hpp"
#include "probe/shared_load.hpp"

namespace wgbpf {

using WireguardSkel = SkeletonPtr<wgbpf_wireguard_bpf, wgbpf_wireguard_bpf__destroy>;

namespace {

// How many functions of that name the kernel and its modules have (0 when /proc/kallsyms cannot be read).
size_t kallsyms_count(std::string_view name) {
    std::ifstream in("/proc/kallsyms");
    size_t n = 0;
    for (std::string line; std::getline(in, line);) {
        // "ffffffffc0a8b1e0 t decrypt_packet\t[wireguard]"
        size_t at = line.find(' ', line.find(' ') + 1);
        if (at == std::string::npos) continue;
        std::string_view sym = std::string_view(line).substr(at + 1);
        sym = sym.substr(0, sym.find('\t'));
        if (sym == name) ++n;
    }
    return n;
}

} // namespace

struct WireguardProbe::Impl {
    WireguardSkel skel;
    WireguardFlavour flavour;
    std::vector<LinkPtr> decrypt_links; // attached apart: where they cannot be, the rest still runs
    std::string decrypt_note;

    // Opens the object with the flavour's programs and loads it (the shared maps reused).
    Result<void> open_and_load(SharedMaps& maps, uint32_t ringbuf_bytes) {
        skel.reset(wgbpf_wireguard_bpf__open());
        if (!skel) return Error{std::string("cannot open the wireguard BPF object: ") + std::strerror(errno)};
        auto& progs = skel->progs;
        bool fexit = flavour.kind == WireguardFlavour::Kind::fexit;
        bool hs = flavour.handshakes;
        bool decrypts = flavour.decrypts;
        auto load = [](bpf_program* p, bool yes) { bpf_program__set_autoload(p, yes); };
        for (bpf_program* p : {progs.wg_lookup_dst_exit, progs.wg_lookup_src_exit}) load(p, fexit);
        for (bpf_program* p :
             {progs.wg_cookie_validate_exit, progs.wg_consume_initiation_exit, progs.wg_consume_response_exit,
              progs.wg_receive_entry, progs.wg_receive_exit, progs.wg_index_lookup_exit, progs.wg_pubkey_lookup_exit})
            load(p, fexit && hs);
        load(progs.wg_purge_entry, fexit && flavour.purges);
        load(progs.wg_purge_entry_k, !fexit && flavour.purges);
        load(progs.wg_decrypt_exit, fexit && decrypts);
        load(progs.wg_decrypt_entry, !fexit && decrypts);
        load(progs.wg_decrypt_return, !fexit && decrypts);
        for (bpf_program* p : {progs.wg_decrypt_exit, progs.wg_decrypt_entry, progs.wg_decrypt_return})
            bpf_program__set_autoattach(p, false);
        for (bpf_program* p : {progs.wg_lookup_dst_entry, progs.wg_lookup_dst_return, progs.wg_lookup_src_entry,
                               progs.wg_lookup_src_return})
            load(p, !fexit);
        for (bpf_program* p :
             {progs.wg_cookie_validate_entry, progs.wg_cookie_validate_return, progs.wg_consume_initiation_entry,
              progs.wg_consume_initiation_return, progs.wg_consume_response_entry, progs.wg_consume_response_return,
              progs.wg_receive_entry_k, progs.wg_receive_return_k, progs.wg_index_lookup_entry,
              progs.wg_index_lookup_return, progs.wg_pubkey_lookup_return})
            load(p, !fexit && hs);
        if (auto r = load_shared(skel.get(), wgbpf_wireguard_bpf__load, maps, ringbuf_bytes, "wireguard"); !r) return r;
        return {};
    }

    // decrypt_packet is static: its kprobe names the module ("wireguard:decrypt_packet"), and fexit resolves it
    // in the module's BTF (the flavour checked vmlinux has none of that name).
    void attach_decrypt() {
        auto& p = skel->progs;
        if (flavour.kind == WireguardFlavour::Kind::fexit) {
            LinkPtr l(bpf_program__attach(p.wg_decrypt_exit));
            if (l) decrypt_links.push_back(std::move(l));
            else
                decrypt_note =
                    std::string("decryption failures not watched: fexit decrypt_packet: ") + std::strerror(errno);
            return;
        }
        LinkPtr entry(bpf_program__attach_kprobe(p.wg_decrypt_entry, false, "wireguard:decrypt_packet"));
        LinkPtr ret(entry ? bpf_program__attach_kprobe(p.wg_decrypt_return, true, "wireguard:decrypt_packet")
                          : nullptr);
        if (!entry || !ret) {
            decrypt_note = std::string("decryption failures not watched: kprobe wireguard:decrypt_packet: ") +
                           std::strerror(errno);
            return;
        }
        decrypt_links.push_back(std::move(entry));
        decrypt_links.push_back(std::move(ret));
    }
};

Result<std::unique_ptr<WireguardProbe>> WireguardProbe::start(const KernelFeatures& kernel, const wgbpf_filter& filter,
                                                              SharedMaps& maps, uint32_t ringbuf_bytes) {
    auto impl = std::make_unique<Impl>();
    impl->flavour = choose_wireguard_flavour(kernel);
    if (!impl->flavour.can_run) return Error{impl->flavour.can_run.why_not};
    if (impl->flavour.decrypts && impl->flavour.kind == WireguardFlavour::Kind::fexit) {
        // fexit finds decrypt_packet by name (the kprobe names the module): another module's function of that
        // name could be taken for WireGuard's.
        if (size_t n = kallsyms_count("decrypt_packet"); n != 1) {
            impl->flavour.decrypts = false;
            impl->decrypt_note = fmt::format("decryption failures not watched: {} functions named decrypt_packet in "
                                             "/proc/kallsyms, not WireGuard's alone",
                                             n);
        }
    }
    auto loaded = impl->open_and_load(maps, ringbuf_bytes);
    if (!loaded && impl->flavour.decrypts) {
        // The program on the module's static function is the likeliest to be refused: the rest runs without it.
        impl->decrypt_note =
            "decryption failures not watched: the program on decrypt_packet did not load: " + loaded.error();
        impl->flavour.decrypts = false;
        loaded = impl->open_and_load(maps, ringbuf_bytes);
    }
    if (!loaded) return loaded;
    impl->skel->bss->filter = filter;
    if (int err = wgbpf_wireguard_bpf__attach(impl->skel.get()))
        return Error{"cannot attach to kernel WireGuard (" + impl->flavour.describe() + "): " + std::strerror(-err)};
    if (impl->flavour.decrypts) impl->attach_decrypt();
    return std::unique_ptr<WireguardProbe>(new WireguardProbe(std::move(impl)));
}

WireguardProbe::WireguardProbe(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WireguardProbe::~WireguardProbe() = default;

void WireguardProbe::set_filter(const wgbpf_filter& filter) { impl_->skel->bss->filter = filter; }

ModuleStatus WireguardProbe::status() const {
    ModuleStatus s;
    s.module = ModuleId::wireguard;
    s.running = true;
    WireguardFlavour shown = impl_->flavour;
    shown.decrypts = shown.decrypts && !impl_->decrypt_links.empty();
    s.flavour = shown.describe();
    s.notes = impl_->flavour.notes;
    if (!impl_->decrypt_note.empty()) s.notes.push_back(impl_->decrypt_note);
    return s;
}

} // namespace wgbpf
