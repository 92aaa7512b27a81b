#include "wgbpf/cli/watch_command.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <stdio_ext.h>
#include <spdlog/spdlog.h>
#include <sys/time.h>
#include <time.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <functional>
#include <iostream>

#include "wgbpf/bpf/drop_reasons.hpp"
#include "wgbpf/bpf/kernel_features.hpp"
#include "wgbpf/bpf/kernel_symbols.hpp"
#include "wgbpf/bpf/ring_consumer.hpp"
#include "wgbpf/cli/exit_codes.hpp"
#include "wgbpf/common/clock.hpp"
#include "wgbpf/render/output_writer.hpp"
#include "wgbpf/cli/privileges.hpp"
#include "wgbpf/netlink/change_watcher.hpp"
#include "wgbpf/netlink/config_reader.hpp"
#include "wgbpf/netlink/netns.hpp"
#include "wgbpf/netlink/nft_reader.hpp"
#include "wgbpf/netlink/nft_trace_table.hpp"
#include "wgbpf/netlink/nftrace_listener.hpp"
#include "wgbpf/netlink/wireguard_reader.hpp"
#include "wgbpf/probe/device_probe.hpp"
#include "wgbpf/probe/wireguard_probe.hpp"
#include "wgbpf/probe/drop_probe.hpp"
#include "wgbpf/probe/netfilter_probe.hpp"
#include "wgbpf/probe/route_probe.hpp"
#include "wgbpf/probe/watch_filter.hpp"
#include "wgbpf/record/recording_writer.hpp"
#include "wgbpf/timeline/event_pipeline.hpp"

namespace wgbpf {
namespace {

std::atomic<bool> g_stop{false};
constexpr uint64_t kFinishBudgetNs = 400'000'000; // after a stop, for what is still in flight

void on_signal(int) { g_stop = true; }

void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal; // no SA_RESTART: the poll returns EINTR and the loop ends promptly
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGALRM, &sa, nullptr); // --duration, and the way out (below)
    std::signal(SIGPIPE, SIG_IGN);
}

void disarm_alarm() {
    itimerval off{};
    setitimer(ITIMER_REAL, &off, nullptr);
}

// SIGALRM after `seconds`, then every `every` seconds (0: once). A signal is what ends a write(2) that a
// stdout nobody reads has blocked: --duration holds then too.
void arm_alarm(double seconds, double every = 0) {
    auto to_timeval = [](double s) {
        return timeval{time_t(s), suseconds_t((s - double(time_t(s))) * 1e6)};
    };
    itimerval v{to_timeval(every), to_timeval(seconds)};
    if (v.it_value.tv_sec == 0 && v.it_value.tv_usec == 0) v.it_value.tv_usec = 1; // 0 would disarm it
    setitimer(ITIMER_REAL, &v, nullptr);
}

// Ctrl-C while attaching: what is attached is detached again (RAII) and nothing is shown.
bool stopped_during_start_up() {
    if (!g_stop) return false;
    spdlog::info("stopped during start-up, before watching began");
    return true;
}

bool readable(int fd) {
    pollfd pfd{fd, POLLIN, 0};
    return ::poll(&pfd, 1, 0) > 0;
}

// Everything wgbpf knows about the watched namespace, refreshed when it changes.
struct WatchedNamespace {
    NetnsHandle handle;
    NetnsConfig config;
    std::unique_ptr<ChangeWatcher> config_watcher;
    std::unique_ptr<ChangeWatcher> nft_watcher;
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

WatchedNamespace open_namespace(const WatchOptions& options) {
    auto handle = NetnsHandle::open(options.netns);
    if (!handle) throw FatalError(handle.error(), exit_code::not_found);
    auto config = read_netns_config(handle.value());
    if (!config) throw FatalError("cannot read the namespace's configuration: " + config.error());
    WatchedNamespace ns{std::move(handle.value()), std::move(config.value()), nullptr, nullptr, std::nullopt};
    if (!ns.config.nft.available) spdlog::warn("nftables ruleset not readable: {}", ns.config.nft.error);
    ns.wireguard = read_wireguard_if_any(ns.handle, options.iface);
    if (auto w = watch_routing_changes(ns.handle)) ns.config_watcher = std::move(w.value());
    else spdlog::warn("route/rule changes will not be followed: {}", w.error());
    if (auto w = watch_ruleset_changes(ns.handle)) ns.nft_watcher = std::move(w.value());
    else spdlog::warn("ruleset changes will not be followed: {}", w.error());
    return ns;
}

void describe_scope(const WatchedNamespace& ns, const WatchOptions& options) {
    std::string what = options.iface.empty() ? "all interfaces" : "interface " + options.iface;
    spdlog::info("watching {} in network namespace {} (inode {})", what, ns.handle.description(), ns.handle.inode());
    if (!ns.wireguard) return;
    const WgInterface& wg = *ns.wireguard;
    std::string endpoints;
    for (const WgPeer& p : wg.peers)
        if (p.endpoint) endpoints += (endpoints.empty() ? "" : ", ") + p.endpoint->to_string();
    spdlog::info("{}: WireGuard ({}), fwmark {:#x}, listen port {}, {} peer(s){}{}: their outer packets are "
                 "followed too",
                 wg.name, wg.source, wg.fwmark, wg.listen_port, wg.peers.size(), endpoints.empty() ? "" : ", endpoints ",
                 endpoints);
}

// The probe modules that could start; the others say why not and the tool goes on without them.
struct Modules {
    SharedMaps maps;
    std::unique_ptr<RouteProbe> route;
    std::unique_ptr<NetfilterProbe> netfilter;
    std::unique_ptr<DropProbe> drop;
    std::unique_ptr<DeviceProbe> device;
    std::unique_ptr<WireguardProbe> wireguard;
    std::vector<ModuleStatus> not_running;

    template <typename Probe>
    void keep(const char* name, Result<std::unique_ptr<Probe>> started, std::unique_ptr<Probe>& slot) {
        if (started) {
            slot = std::move(started.value());
            ModuleStatus s = slot->status();
            spdlog::info("{} module: {}", name, s.flavour);
            for (const std::string& note : s.notes) spdlog::info("{} module: {}", name, note);
            return;
        }
        spdlog::warn("{} module cannot run on this kernel: {}", name, started.error());
        not_running.push_back(ModuleStatus{name, false, "none", {started.error()}, 0, 0});
    }

    void set_filter(const wgbpf_filter& filter) {
        if (route) route->set_filter(filter);
        if (netfilter) netfilter->set_filter(filter);
        if (device) device->set_filter(filter);
        if (wireguard) wireguard->set_filter(filter);
    }

    // Losses since the last call, per module: they become gaps in the timelines open right now.
    std::map<std::string, uint64_t> reported_losses;
    std::map<std::string, uint64_t> new_losses() {
        std::map<std::string, uint64_t> fresh;
        for (const ModuleStatus& m : statuses({})) {
            uint64_t& before = reported_losses[m.name];
            if (m.lost > before) fresh[m.name] = m.lost - before;
            before = m.lost;
        }
        return fresh;
    }

    std::vector<ModuleStatus> statuses(const std::map<std::string, uint64_t>& events) const {
        std::vector<ModuleStatus> out;
        auto add = [&](ModuleStatus s) {
            if (auto it = events.find(s.name); it != events.end()) s.events = it->second;
            out.push_back(std::move(s));
        };
        if (route) add(route->status());
        if (netfilter) add(netfilter->status());
        if (drop) add(drop->status());
        if (device) add(device->status());
        if (wireguard) add(wireguard->status());
        for (const ModuleStatus& s : not_running) out.push_back(s);
        return out;
    }
};

Modules start_modules(const KernelFeatures& kernel, const wgbpf_filter& filter, const WatchedNamespace& ns,
                      uint32_t ringbuf_bytes, const std::function<bool()>& stopped) {
    Modules m;
    // Loading takes a while per module: a stop asked meanwhile is acted on before the next one.
    if (!stopped()) m.keep("route", RouteProbe::start(kernel, filter, m.maps, ringbuf_bytes), m.route);
    if (!stopped())
        m.keep("netfilter", NetfilterProbe::start(kernel, filter, m.maps, ringbuf_bytes, ns.handle, ns.config.nft),
               m.netfilter);
    if (!stopped()) m.keep("drop", DropProbe::start(kernel, m.maps, ringbuf_bytes), m.drop);
    if (!stopped()) m.keep("device", DeviceProbe::start(kernel, filter, m.maps, ringbuf_bytes), m.device);
    if (!stopped()) m.keep("wireguard", WireguardProbe::start(kernel, filter, m.maps, ringbuf_bytes), m.wireguard);
    if (stopped()) return m;
    if (!m.route && !m.netfilter && !m.drop && !m.device) throw FatalError("no probe module can run on this kernel (see above)");
    return m;
}

// `--nftrace`: the trace table that marks the watched packets and the listener for the trace messages.
// When either cannot start, watch says why and goes on without.
struct Nftrace {
    std::unique_ptr<NftraceListener> listener;
    std::unique_ptr<NftTraceTable> table;
    std::string off_reason;
    uint64_t received = 0;

    static Nftrace start(const WatchedNamespace& ns, const WatchOptions& options) {
        Nftrace n;
        // The listener first: nothing the table makes is missed.
        auto listener = NftraceListener::open(ns.handle);
        auto table = listener ? NftTraceTable::create(ns.handle, TraceScope{options.iface, ns.wireguard})
                              : Result<std::unique_ptr<NftTraceTable>>(Error{listener.error()});
        if (!table) {
            spdlog::warn("nftrace: off: {}", table.error());
            n.off_reason = table.error();
            return n;
        }
        n.listener = std::move(listener.value());
        n.table = std::move(table.value());
        spdlog::info("nftrace: table inet {} ({} trace rules at priority {}) in {}", n.table->name(), n.table->rules(),
                     kTraceChainPriority, ns.handle.description());
        return n;
    }

    NftraceSummary summary(const EventPipeline& pipeline) const {
        NftraceSummary s;
        s.off_reason = off_reason;
        s.received = received;
        if (const NftraceMergeStats* m = pipeline.nftrace_stats()) {
            s.merged = m->merged;
            s.unmatched = m->unmatched;
            s.dropped = m->dropped;
        }
        if (listener) s.overruns = listener->overruns();
        return s;
    }
};

// `-w FILE`: a recording beside the live output. A write error stops the recording (said once), not
// the watching.
class Recording {
public:
    Recording(const WatchOptions& options, const DropReasons& reasons, const KernelSymbols& symbols) {
        if (options.record_path.empty()) return;
        auto w = RecordingWriter::open(options.record_path, RecordingHeader::for_this_process(options.command_line),
                                       {[&reasons](uint32_t r) { return reasons.name(r); },
                                        [&symbols](uint64_t a) { return symbols.name(a); }});
        if (!w) throw FatalError(w.error());
        writer_ = std::move(w.value());
        spdlog::info("recording to {}", options.record_path);
    }

    template <typename Write>
    void write(Write&& write) {
        if (!writer_) return;
        if (auto r = write(*writer_); !r) {
            spdlog::error("recording stopped: {}", r.error());
            writer_.reset();
        }
    }

private:
    std::unique_ptr<RecordingWriter> writer_;
};

} // namespace

int run_watch(const WatchOptions& options) {
    install_signal_handlers(); // before anything slow: Ctrl-C during start-up still ends cleanly
    if (auto missing = missing_capabilities(); !missing.empty()) {
        std::string list;
        for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
        throw FatalError(fmt::format("wgbpf watch needs root or the capabilities CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN "
                                     "and CAP_SYS_ADMIN; missing: {}",
                                     list),
                         exit_code::no_privileges);
    }

    WatchedNamespace ns = open_namespace(options);
    wgbpf_filter filter = filter_for(ns, options);
    describe_scope(ns, options);
    auto kernel = probe_running_kernel();
    if (options.no_fexit) kernel = without_fexit(std::move(kernel), "fentry/fexit not used (--no-fexit)");
    if (stopped_during_start_up()) return exit_code::ok;
    // The recording's file first: a path that cannot be written is said before seconds of loading.
    const DropReasons reasons = DropReasons::load();
    const KernelSymbols symbols = KernelSymbols::load();
    Recording recording(options, reasons, symbols);
    Modules modules = start_modules(*kernel, filter, ns, options.ringbuf_kib * 1024, [] { return g_stop.load(); });
    if (stopped_during_start_up()) return exit_code::ok;

    TextStyle style{options.colour, int64_t(clock_ns(CLOCK_REALTIME)) - int64_t(clock_ns(CLOCK_MONOTONIC))};
    OutputWriter output(std::cout, options.json, style, [&](int ifindex) { return ns.config.link_name(ifindex); });
    if (options.count) output.limit(*options.count);
    auto wireguard_list = [&] { return ns.wireguard ? std::vector<WgInterface>{*ns.wireguard} : std::vector<WgInterface>{}; };
    auto record_config = [&] {
        if (options.config_sink) options.config_sink(ns.config);
        if (options.wireguard_sink) options.wireguard_sink(wireguard_list());
        recording.write([&](RecordingWriter& w) { return w.write_config({ns.handle.inode(), ns.config, wireguard_list()}); });
        if (modules.netfilter && modules.netfilter->plan())
            recording.write([&](RecordingWriter& w) { return w.write_plan({ns.handle.inode(), *modules.netfilter->plan()}); });
    };
    record_config();
    PipelineSources sources{
        [&](uint32_t netns) -> const NetnsConfig* { return netns == ns.config.netns_inode ? &ns.config : nullptr; },
        [&](uint32_t) -> const BracketPlan* { return modules.netfilter ? modules.netfilter->plan() : nullptr; },
        [&](uint32_t) { return wireguard_list(); },
        [&](uint32_t reason) { return reasons.name(reason); }, [&](uint64_t addr) { return symbols.name(addr); }};
    PipelineSinks sinks;
    if (options.steps) {
        sinks.route = [&](const RouteDecision& d) { output.route(d); };
        sinks.netfilter = [&](const NetfilterStep& s) { output.netfilter(s); };
        sinks.drop = [&](const DropStep& d) { output.drop(d); };
    } else if (options.timeline_sink) {
        sinks.timeline = options.timeline_sink;
    } else {
        sinks.timeline = [&](const PacketTimeline& t) { output.timeline(t); };
    }
    EventPipeline pipeline(sources, sinks);
    Nftrace nftrace;
    if (options.nftrace) nftrace = Nftrace::start(ns, options);
    if (nftrace.listener) pipeline.enable_nftrace();
    const NftraceNames trace_names{
        [&](int ifindex) { return ns.config.link_name(ifindex); },
        [&](const std::string& family, const std::string& table, const std::string& chain, uint64_t handle) {
            const NftChain* c = ns.config.nft.chain(family, table, chain);
            const NftRule* r = c ? c->rule(handle) : nullptr;
            return r ? r->text : std::string();
        }};
    auto read_traces = [&] {
        if (!nftrace.listener || !readable(nftrace.listener->fd())) return;
        nftrace.listener->drain(trace_names, [&](NftraceEvent&& e) {
            ++nftrace.received;
            recording.write([&](RecordingWriter& w) { return w.write_nftrace(e); });
            pipeline.trace(std::move(e));
        });
    };
    auto consumer = RingConsumer::open(modules.maps.events, [&](std::span<const std::byte> record) {
        recording.write([&](RecordingWriter& w) { return w.write_event(record); });
        pipeline.feed(record);
    });
    if (!consumer) throw FatalError(consumer.error());
    if (stopped_during_start_up()) return exit_code::ok;
    output.ready(modules.statuses({}), ns.handle.inode());

    const uint64_t start = clock_ns(CLOCK_MONOTONIC);
    if (options.duration_s) arm_alarm(*options.duration_s); // --duration ends the watch as a signal does
    struct AlarmOff {
        // A watch that ended by itself (end of input, --count) leaves no SIGALRM behind; one that was asked to
        // stop keeps interrupting blocked writes until the process exits (live compare writes afterwards).
        ~AlarmOff() {
            if (!g_stop) disarm_alarm();
        }
    } alarm_off;
    uint64_t next_wireguard_refresh = start + 5'000'000'000ull;
    uint64_t next_config_check = start;
    // The interface is followed by name: when it goes (deleted, or a WireGuard interface taken down by
    // wg-quick), nothing of it is watched and the watch goes on; when it comes back, possibly with another
    // ifindex, the filter is armed again for it, and for WireGuard with its current configuration.
    bool iface_present = true;
    auto follow_interface = [&] {
        if (options.iface.empty()) return;
        const Link* link = ns.config.link_by_name(options.iface);
        if (!link) {
            if (iface_present)
                spdlog::warn("interface {} is gone from {}: not watched until it comes back", options.iface,
                             ns.handle.description());
            iface_present = false;
            WatchScope none{ns.handle.inode(), -1, std::nullopt}; // no interface has index -1
            modules.set_filter(build_filter(none).value());
            return;
        }
        if (!iface_present) spdlog::info("interface {} is back (ifindex {}): watched again", options.iface, link->ifindex);
        iface_present = true;
        ns.wireguard = read_wireguard_if_any(ns.handle, options.iface);
        modules.set_filter(filter_for(ns, options));
    };
    // Events the kernel lost since the last call: recorded, and marked on the timelines they touch.
    auto report_losses = [&] {
        for (const auto& loss : modules.new_losses()) { // (not a structured binding: clang 14 cannot capture one)
            const std::string& module = loss.first;
            const uint64_t n = loss.second;
            recording.write([&](RecordingWriter& w) { return w.write_lost({module, n}); });
            pipeline.lost(module, n);
        }
    };
    while (!g_stop) {
        auto polled = (*consumer)->poll(100);
        if (!polled) throw FatalError(polled.error());
        uint64_t now = clock_ns(CLOCK_MONOTONIC);
        read_traces();
        // Routing changes at most every 100 ms: a route storm must not cost a re-index per wake-up.
        if (ns.config_watcher && now >= next_config_check && readable(ns.config_watcher->fd())) {
            next_config_check = now + 100'000'000;
            ChangeWatcher::RoutingChanges changes = ns.config_watcher->drain_routing();
            if (!changes.read_again && !changes.routes.empty() && !ns.config.apply(changes.routes)) {
                spdlog::debug("a removed route was not in wgbpf's copy: reading the configuration again");
                changes.read_again = true;
            }
            if (changes.read_again) {
                spdlog::debug("links, addresses or rules changed: reading the configuration again");
                NftRuleset nft = std::move(ns.config.nft); // the ruleset has its own watcher
                if (auto fresh = read_netns_config(ns.handle)) ns.config = std::move(fresh.value());
                else spdlog::warn("cannot refresh the configuration: {}", fresh.error());
                ns.config.nft = std::move(nft);
                follow_interface();
            }
            if (changes.any()) record_config();
        }
        if (ns.nft_watcher && readable(ns.nft_watcher->fd()) && ns.nft_watcher->drain()) {
            spdlog::debug("the nftables ruleset changed: reading it again");
            if (auto fresh = read_nft_ruleset(ns.handle)) {
                ns.config.nft = std::move(fresh.value());
                if (modules.netfilter)
                    if (auto moved = modules.netfilter->update_ruleset(ns.config.nft); !moved)
                        spdlog::warn("netfilter hooks not moved with the ruleset: {}", moved.error());
                record_config();
            } else {
                spdlog::warn("cannot refresh the ruleset: {}", fresh.error());
            }
        }
        if (iface_present && ns.wireguard && now >= next_wireguard_refresh) { // endpoints roam: follow them
            follow_interface();
            record_config();
            next_wireguard_refresh = now + 5'000'000'000ull;
        }
        report_losses();
        pipeline.flush(now);
        if (WriteResult w = output.flush(); w.state == WriteState::failed && !g_stop)
            throw FatalError("cannot write the output: " + w.error);
        else if (w.state == WriteState::closed || reader_gone(STDOUT_FILENO))
            break; // the reader went away (`| head`): nothing more to show
        recording.write([&](RecordingWriter& w) { return w.write_flush(now); }); // replay finishes steps here too
        recording.write([](RecordingWriter& w) { return w.flush(); });
        if (options.keep_going && !options.keep_going()) break;
        if (output.full()) break;
    }
    // Asked to stop: from here on a blocked write is interrupted every second, so the way out takes a bounded
    // time however stdout is (not) read. What could not be written then is an error.
    if (g_stop) arm_alarm(1, 1);
    const uint64_t stopped_ns = clock_ns(CLOCK_MONOTONIC);
    // What is still in the buffer, batch by batch, for at most a tenth of a second: a stop stays prompt.
    for (uint64_t until = clock_ns(CLOCK_MONOTONIC) + 100'000'000; clock_ns(CLOCK_MONOTONIC) < until;) {
        auto drained = (*consumer)->poll(0);
        if (!drained || !(*consumer)->more()) break;
    }
    read_traces();
    report_losses();
    // Asked to stop (Ctrl-C, SIGTERM, --duration): what is still in flight is shown for 0.4 s at
    // most, the rest counted in the summary. The end of input or --count shows everything.
    const bool asked = g_stop;
    pipeline.finish([&] { return asked && clock_ns(CLOCK_MONOTONIC) - stopped_ns > kFinishBudgetNs; });
    const double seconds = (clock_ns(CLOCK_MONOTONIC) - start) / 1e9;
    const auto statuses = modules.statuses(pipeline.events_per_module());
    recording.write([&](RecordingWriter& w) { return w.write_end({seconds, 0, 0, statuses}); });
    output.summary(statuses, pipeline.decode_stats().rejected(), seconds,
                   options.nftrace ? std::optional(nftrace.summary(pipeline)) : std::nullopt, pipeline.lone_routes(),
                   pipeline.not_shown());
    if (options.config_sink) options.config_sink(ns.config);
    if (options.wireguard_sink && !options.iface.empty()) { // as it is now: its handshake times moved on
        ns.wireguard = read_wireguard_if_any(ns.handle, options.iface);
        options.wireguard_sink(wireguard_list());
    }
    if (options.end_sink) options.end_sink(statuses, seconds);
    if (WriteResult w = output.flush(); w.state == WriteState::failed) {
        // What stdio still holds would be written again (and block again) at exit: dropped, said once here.
        __fpurge(stdout);
        std::cout.clear();
        spdlog::error("{}", w.err == EINTR ? std::string("stdout was not being read when the watch stopped: output was lost")
                                           : "cannot write the output: " + w.error);
        return exit_code::failure;
    }
    return exit_code::ok;
}

} // namespace wgbpf
