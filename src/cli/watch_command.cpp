#include "wgbpf/cli/watch_command.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "wgbpf/bpf/kernel_features.hpp"
#include "wgbpf/bpf/ring_consumer.hpp"
#include "wgbpf/cli/exit_codes.hpp"
#include "wgbpf/cli/privileges.hpp"
#include "wgbpf/event/event_decoder.hpp"
#include "wgbpf/netlink/config_reader.hpp"
#include "wgbpf/netlink/netns.hpp"
#include "wgbpf/netlink/wireguard_reader.hpp"
#include "wgbpf/probe/route_probe.hpp"
#include "wgbpf/probe/watch_filter.hpp"
#include "wgbpf/render/route_render.hpp"
#include "wgbpf/route/walk_grouper.hpp"

namespace wgbpf {
namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop = true; }

void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal; // no SA_RESTART: the poll returns EINTR and the loop ends promptly
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
}

uint64_t clock_ns(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Everything wgbpf knows about the watched namespace, refreshed when it changes.
struct WatchedNamespace {
    NetnsHandle handle;
    NetnsConfig config;
    std::unique_ptr<ConfigWatcher> watcher;
    std::optional<WgInterface> wireguard;
};

std::optional<WgInterface> read_wireguard_if_any(const NetnsHandle& ns, const std::string& iface) {
    if (iface.empty()) return std::nullopt;
    auto wg = read_wireguard(ns, iface);
    if (!wg) {
        spdlog::debug("{}: not followed as WireGuard: {}", iface, wg.error());
        return std::nullopt;
    }
    return wg.value();
}

wgbpf_filter filter_for(const WatchedNamespace& ns, const WatchOptions& options) {
    WatchScope scope;
    scope.netns = ns.handle.inode();
    if (!options.iface.empty()) {
        const Link* link = ns.config.link_by_name(options.iface);
        if (!link)
            throw FatalError(fmt::format("no interface '{}' in network namespace {}", options.iface,
                                         ns.handle.description()),
                             exit_code::not_found);
        scope.ifindex = link->ifindex;
        scope.wireguard = ns.wireguard;
    }
    auto filter = build_filter(scope);
    if (!filter) throw FatalError(filter.error());
    return filter.value();
}

void describe_scope(const WatchedNamespace& ns, const WatchOptions& options) {
    std::string what = options.iface.empty() ? "all interfaces" : "interface " + options.iface;
    spdlog::info("watching {} in network namespace {} (inode {})", what, ns.handle.description(), ns.handle.inode());
    if (ns.wireguard) {
        const WgInterface& wg = *ns.wireguard;
        std::string endpoints;
        for (const WgPeer& p : wg.peers)
            if (p.endpoint) endpoints += (endpoints.empty() ? "" : ", ") + p.endpoint->to_string();
        spdlog::info("{}: WireGuard ({}), fwmark {:#x}, listen port {}, {} peer(s){}{}: their outer packets are "
                     "followed too",
                     wg.name, wg.source, wg.fwmark, wg.listen_port, wg.peers.size(),
                     endpoints.empty() ? "" : ", endpoints ", endpoints);
    }
}

void print_summary(const ModuleStatus& route, const DecodeStats& decode, uint64_t decisions, double seconds,
                   bool json) {
    std::cerr << fmt::format("wgbpf: {} route decisions in {:.1f} s\n", decisions, seconds);
    std::cerr << fmt::format("  module {:<8} {}: {} events, {} lost\n", route.name, route.flavour, route.events,
                             route.lost);
    for (const std::string& note : route.notes) std::cerr << "    " << note << "\n";
    if (decode.rejected())
        std::cerr << fmt::format("  decoder: {} records rejected ({} truncated, {} unknown type, {} bad version)\n",
                                 decode.rejected(), decode.truncated, decode.unknown_type, decode.bad_version);
    if (route.lost)
        std::cerr << "  some events were lost (ring buffer full): decisions above may be incomplete; "
                     "raise --ringbuf-kib or narrow the filter\n";
    if (json) {
        nlohmann::json j{{"kind", "summary"},
                         {"decisions", decisions},
                         {"seconds", seconds},
                         {"modules",
                          {{{"name", route.name},
                            {"flavour", route.flavour},
                            {"events", route.events},
                            {"lost", route.lost},
                            {"notes", route.notes}}}},
                         {"decoder_rejected", decode.rejected()}};
        std::cout << j.dump() << std::endl;
    }
}

} // namespace

int run_watch(const WatchOptions& options) {
    if (auto missing = missing_capabilities(); !missing.empty()) {
        std::string list;
        for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
        throw FatalError(fmt::format("wgbpf watch needs root or the capabilities CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN "
                                     "and CAP_SYS_ADMIN; missing: {}",
                                     list),
                         exit_code::no_privileges);
    }

    auto handle = NetnsHandle::open(options.netns);
    if (!handle) throw FatalError(handle.error(), exit_code::not_found);
    auto config = read_netns_config(handle.value());
    if (!config) throw FatalError("cannot read the namespace's configuration: " + config.error());
    WatchedNamespace ns{std::move(handle.value()), std::move(config.value()), nullptr, std::nullopt};
    ns.wireguard = read_wireguard_if_any(ns.handle, options.iface);
    wgbpf_filter filter = filter_for(ns, options);
    if (auto watcher = ConfigWatcher::open(ns.handle)) ns.watcher = std::move(watcher.value());
    else spdlog::warn("configuration changes will not be followed: {}", watcher.error());
    describe_scope(ns, options);

    auto kernel = probe_running_kernel();
    auto probe = RouteProbe::start(*kernel, filter, options.ringbuf_kib * 1024);
    if (!probe) throw FatalError("the routing module cannot run on this kernel: " + probe.error());
    spdlog::info("route module: {}", (*probe)->status().flavour);
    for (const std::string& note : (*probe)->status().notes) spdlog::info("route module: {}", note);

    // Render as decisions complete.
    TextStyle style{options.colour, int64_t(clock_ns(CLOCK_REALTIME)) - int64_t(clock_ns(CLOCK_MONOTONIC))};
    uint64_t decisions = 0;
    WalkGrouper grouper(
        [&](uint32_t netns) -> const NetnsConfig* { return netns == ns.config.netns_inode ? &ns.config : nullptr; },
        [&](RouteDecision&& d) {
            if (options.count && decisions >= *options.count) return;
            ++decisions;
            if (options.json) std::cout << route_to_json(d).dump() << '\n' << std::flush;
            else std::cout << render_route_text(d, style) << std::flush;
        });

    EventDecoder decoder;
    uint64_t route_events = 0;
    auto consumer = RingConsumer::open((*probe)->events_fd(), [&](std::span<const std::byte> record) {
        auto event = decoder.decode(record);
        if (!event) {
            spdlog::debug("rejected record: {}", event.error());
            return;
        }
        ++route_events;
        std::visit([&](const auto& e) { grouper.add(e); }, event.value());
    });
    if (!consumer) throw FatalError(consumer.error());

    install_signal_handlers();
    const uint64_t start = clock_ns(CLOCK_MONOTONIC);
    const uint64_t deadline = options.duration_s ? start + uint64_t(*options.duration_s * 1e9) : UINT64_MAX;
    uint64_t next_wireguard_refresh = start + 5'000'000'000ull;
    while (!g_stop) {
        auto polled = (*consumer)->poll(100);
        if (!polled) throw FatalError(polled.error());
        uint64_t now = clock_ns(CLOCK_MONOTONIC);
        if (ns.watcher) {
            pollfd pfd{ns.watcher->fd(), POLLIN, 0};
            if (::poll(&pfd, 1, 0) > 0 && ns.watcher->drain()) {
                if (auto fresh = read_netns_config(ns.handle)) ns.config = std::move(fresh.value());
                else spdlog::warn("cannot refresh the configuration: {}", fresh.error());
            }
        }
        if (ns.wireguard && now >= next_wireguard_refresh) { // endpoints roam: follow them
            ns.wireguard = read_wireguard_if_any(ns.handle, options.iface);
            (*probe)->set_filter(filter_for(ns, options));
            next_wireguard_refresh = now + 5'000'000'000ull;
        }
        grouper.flush(now);
        if (now >= deadline) break;
        if (options.count && decisions >= *options.count) break;
    }
    // Drain what is still in the buffer, then finish open walks.
    (void)(*consumer)->poll(0);
    grouper.flush_all();

    ModuleStatus status = (*probe)->status();
    status.events = route_events;
    print_summary(status, decoder.stats(), decisions, (clock_ns(CLOCK_MONOTONIC) - start) / 1e9, options.json);
    return exit_code::ok;
}

} // namespace wgbpf
