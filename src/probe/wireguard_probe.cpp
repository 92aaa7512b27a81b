#include "wgbpf/probe/wireguard_probe.hpp"

#include <cerrno>
#include <cstring>
#include <vector>

#include "wireguard.skel.h"
#include "wgbpf/bpf/libbpf_raii.hpp"
#include "wgbpf/probe/shared_load.hpp"

namespace wgbpf {

using WireguardSkel = SkeletonPtr<wgbpf_wireguard_bpf, wgbpf_wireguard_bpf__destroy>;

struct WireguardProbe::Impl {
    WireguardSkel skel;
    WireguardFlavour flavour;
    int losses_fd = -1;
    std::vector<LinkPtr> decrypt_links; // attached apart: where they cannot be, the rest still runs
    std::string decrypt_note;

    // decrypt_packet is static: its kprobe names the module ("wireguard:decrypt_packet"), and fexit resolves it
    // in the module's BTF (the flavour checked vmlinux has none of that name).
    void attach_decrypt() {
        auto& p = skel->progs;
        if (flavour.kind == WireguardFlavour::Kind::fexit) {
            LinkPtr l(bpf_program__attach(p.wg_decrypt_exit));
            if (l) decrypt_links.push_back(std::move(l));
            else decrypt_note = std::string("decryption failures not watched: fexit decrypt_packet: ") + std::strerror(errno);
            return;
        }
        LinkPtr entry(bpf_program__attach_kprobe(p.wg_decrypt_entry, false, "wireguard:decrypt_packet"));
        LinkPtr ret(entry ? bpf_program__attach_kprobe(p.wg_decrypt_return, true, "wireguard:decrypt_packet") : nullptr);
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
    if (impl->flavour.kind == WireguardFlavour::Kind::none) return Error{impl->flavour.why_not};
    impl->skel.reset(wgbpf_wireguard_bpf__open());
    if (!impl->skel) return Error{std::string("cannot open the wireguard BPF object: ") + std::strerror(errno)};
    auto& progs = impl->skel->progs;
    bool fexit = impl->flavour.kind == WireguardFlavour::Kind::fexit;
    bool hs = impl->flavour.handshakes;
    auto load = [](bpf_program* p, bool yes) { bpf_program__set_autoload(p, yes); };
    for (bpf_program* p : {progs.wg_lookup_dst_exit, progs.wg_lookup_src_exit}) load(p, fexit);
    for (bpf_program* p : {progs.wg_cookie_validate_exit, progs.wg_consume_initiation_exit, progs.wg_consume_response_exit,
                           progs.wg_receive_entry, progs.wg_receive_exit, progs.wg_index_lookup_exit,
                           progs.wg_pubkey_lookup_exit})
        load(p, fexit && hs);
    bool decrypts = impl->flavour.decrypts;
    load(progs.wg_decrypt_exit, fexit && decrypts);
    load(progs.wg_decrypt_entry, !fexit && decrypts);
    load(progs.wg_decrypt_return, !fexit && decrypts);
    for (bpf_program* p : {progs.wg_decrypt_exit, progs.wg_decrypt_entry, progs.wg_decrypt_return})
        bpf_program__set_autoattach(p, false);
    for (bpf_program* p : {progs.wg_lookup_dst_entry, progs.wg_lookup_dst_return, progs.wg_lookup_src_entry,
                           progs.wg_lookup_src_return})
        load(p, !fexit);
    for (bpf_program* p : {progs.wg_cookie_validate_entry, progs.wg_cookie_validate_return, progs.wg_consume_initiation_entry,
                           progs.wg_consume_initiation_return, progs.wg_consume_response_entry, progs.wg_consume_response_return,
                           progs.wg_receive_entry_k, progs.wg_receive_return_k, progs.wg_index_lookup_entry,
                           progs.wg_index_lookup_return, progs.wg_pubkey_lookup_return})
        load(p, !fexit && hs);
    if (auto r = load_shared(impl->skel.get(), wgbpf_wireguard_bpf__load, maps, ringbuf_bytes, "wireguard"); !r)
        return Error{r.error()};
    impl->skel->bss->filter = filter;
    if (int err = wgbpf_wireguard_bpf__attach(impl->skel.get()))
        return Error{"cannot attach to kernel WireGuard (" + impl->flavour.describe() + "): " + std::strerror(-err)};
    if (decrypts) impl->attach_decrypt();
    impl->losses_fd = maps.losses;
    return std::unique_ptr<WireguardProbe>(new WireguardProbe(std::move(impl)));
}

WireguardProbe::WireguardProbe(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WireguardProbe::~WireguardProbe() = default;

void WireguardProbe::set_filter(const wgbpf_filter& filter) { impl_->skel->bss->filter = filter; }

ModuleStatus WireguardProbe::status() const {
    ModuleStatus s;
    s.name = "wireguard";
    s.running = true;
    WireguardFlavour shown = impl_->flavour;
    shown.decrypts = shown.decrypts && !impl_->decrypt_links.empty();
    s.flavour = shown.describe();
    s.notes = impl_->flavour.notes;
    if (!impl_->decrypt_note.empty()) s.notes.push_back(impl_->decrypt_note);
    s.lost = read_losses(impl_->losses_fd, WGBPF_MOD_WIREGUARD);
    return s;
}

} // namespace wgbpf
