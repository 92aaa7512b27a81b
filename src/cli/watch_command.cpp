#include "watch_command.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <stdio_ext.h>
#include <spdlog/spdlog.h>
#include <sys/time.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <functional>
#include <iostream>
#include <set>

#include "loader/drop_reasons.hpp"
#include "loader/kernel_features.hpp"
#include "loader/kernel_symbols.hpp"
#include "loader/ring_consumer.hpp"
#include "common/exit_codes.hpp"
#include "common/clock.hpp"
#include "render/output_writer.hpp"
#include "filter/packet_filter.hpp"
#include "privileges.hpp"
#include "netlink/change_watcher.hpp"
#include "netlink/config_reader.hpp"
#include "netlink/netns.hpp"
#include "netlink/nft_reader.hpp"
#include "netlink/nft_trace_table.hpp"
#include "netlink/nftrace_listener.hpp"
#include "netlink/wireguard_reader.hpp"
#include "wireguard/wg_sockets.hpp"
#include "probe/probe_modules.hpp"
#include "probe/watch_filter.hpp"
#include "record/recording_writer.hpp"
#include "timeline/event_pipeline.hpp"
#include "metrics_server.hpp"
#include "pcapng/pcapng_file.hpp"

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
    auto to_timeval = [](double s) { return timeval{time_t(s), suseconds_t((s - double(time_t(s))) * 1e6)}; };
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

std::optional<WgInterface> read_wireguard_if_any(const NetnsHandle& ns, const std::string& iface) {
    if (iface.empty()) return std::nullopt;
    auto wg = read_wireguard(ns, iface);
    if (!wg) {
        spdlog::debug("{}: not followed as WireGuard: {}", iface, wg.error());
        return std::nullopt;
    }
    return wg.value();
}

// Everything wgbpf knows about a watched namespace, refreshed when it changes.
struct WatchedNamespace {
    NetnsHandle handle;
    NetnsConfig config;
    std::unique_ptr<ChangeWatcher> config_watcher;
    std::unique_ptr<ChangeWatcher> nft_watcher;
    std::optional<WgInterface> wireguard; // the watched interface, when it is here and WireGuard
    bool iface_present = false;           // the watched interface is here (now)
    bool iface_seen = false;              // ... or was, since the watch began
    uint64_t next_config_check = 0;
};

// The watched namespaces (one, unless --netns is repeated or `all`), and where each WireGuard interface's
// socket is: its outer packets may be in another of them than the interface (wireguard.com/netns).
struct Namespaces {
    std::vector<WatchedNamespace> list;
    std::vector<NamespaceWireguard> wireguard; // as placed: each interface's netns and socket_netns
    std::set<std::string> said;                // placement notes already logged

    bool several() const { return list.size() > 1; }
    WatchedNamespace& primary() { return list.front(); }
    const WatchedNamespace* find(uint32_t inode) const {
        for (const WatchedNamespace& ns : list)
            if (ns.handle.inode() == inode) return &ns;
        return nullptr;
    }
    // "wgbpf-lab-client: " when several namespaces are watched, so that a log line says which.
    std::string prefix(const WatchedNamespace& ns) const { return several() ? ns.handle.name() + ": " : std::string(); }

    // The interfaces namespace `inode`'s packets can meet (its own; others' whose socket is there).
    std::vector<WgInterface> wireguard_for(uint32_t inode) const { return wireguard_seen_from(wireguard, inode); }

    // The listen ports of a namespace's WireGuard interfaces other than the watched one (read only to tell
    // apart namespaces that bind the same port).
    std::set<uint16_t> other_wireguard_ports(uint32_t inode) const {
        std::set<uint16_t> ports;
        const WatchedNamespace* ns = find(inode);
        if (!ns) return ports;
        for (const Link& link : ns->config.links) {
            if (ns->wireguard && link.name == ns->wireguard->name) continue;
            if (auto wg = read_wireguard(ns->handle, link.name); wg && wg->listen_port) ports.insert(wg->listen_port);
        }
        return ports;
    }

    // The watched interface's WireGuard configuration read again where it is now (endpoints roam, handshake
    // times move on), and where each socket is.
    void reread_wireguard(const std::string& iface) {
        for (WatchedNamespace& ns : list)
            ns.wireguard = ns.iface_present ? read_wireguard_if_any(ns.handle, iface) : std::nullopt;
        place_sockets();
    }

    // Where each WireGuard interface's socket is: the namespace that binds its listen port.
    void place_sockets() {
        wireguard.clear();
        bool any = false;
        for (const WatchedNamespace& ns : list) any = any || (ns.wireguard && ns.wireguard->listen_port);
        for (const WatchedNamespace& ns : list) {
            NamespaceWireguard n{ns.handle.inode(), {}, {}, false};
            if (ns.wireguard) n.interfaces.push_back(*ns.wireguard);
            if (any) {
                if (auto ports = bound_udp_ports(ns.handle)) {
                    n.udp_ports = std::move(ports.value());
                    n.ports_known = true;
                } else {
                    spdlog::debug("{}cannot read its UDP sockets: {}", prefix(ns), ports.error());
                }
            }
            wireguard.push_back(std::move(n));
        }
        auto others = [this](uint32_t inode) { return other_wireguard_ports(inode); };
        for (const std::string& note : place_wireguard_sockets(wireguard, others))
            if (said.insert(note).second) spdlog::warn("{}", note);
        for (size_t i = 0; i < list.size(); ++i)
            if (list[i].wireguard) list[i].wireguard = wireguard[i].interfaces.front();
    }
};

// One scope per namespace: the interface where it is now, and the outer packets of the WireGuard
// interfaces (by port, fwmark or endpoint) in every watched namespace.
Result<wgbpf_filter> scoped_filter(const Namespaces& spaces, const WatchOptions& options) {
    std::vector<WatchScope> scopes;
    for (const WatchedNamespace& ns : spaces.list) {
        WatchScope scope;
        scope.netns = ns.handle.inode();
        scope.named_interface = !options.iface.empty();
        if (scope.named_interface && ns.iface_present)
            if (const Link* link = ns.config.link_by_name(options.iface)) scope.ifindex = link->ifindex;
        scope.wireguard = ns.wireguard;
        scopes.push_back(std::move(scope));
    }
    auto filter = build_filter(scopes);
    if (filter) {
        filter->pcap = !options.expression.empty();
        filter->sample_every = options.sample_every;
        filter->snaplen = options.snaplen;
    }
    return filter;
}

uint64_t lost_of(const std::vector<ModuleStatus>& statuses, ModuleId module) {
    for (const ModuleStatus& s : statuses)
        if (s.module == module) return s.lost;
    return 0;
}

wgbpf_filter filter_for(const Namespaces& spaces, const WatchOptions& options) {
    auto filter = scoped_filter(spaces, options);
    if (!filter) throw FatalError(filter.error());
    return filter.value();
}

WatchedNamespace open_namespace(NetnsHandle handle, const WatchOptions& options, bool several) {
    const std::string prefix = several ? handle.name() + ": " : std::string();
    auto config = read_netns_config(handle);
    if (!config)
        throw FatalError(fmt::format("{}cannot read the namespace's configuration: {}", prefix, config.error()));
    WatchedNamespace ns{std::move(handle), std::move(config.value())};
    if (!ns.config.nft.available) spdlog::warn("{}nftables ruleset not readable: {}", prefix, ns.config.nft.error);
    ns.iface_present = !options.iface.empty() && ns.config.link_by_name(options.iface);
    ns.iface_seen = ns.iface_present;
    if (ns.iface_present) ns.wireguard = read_wireguard_if_any(ns.handle, options.iface);
    if (auto w = watch_routing_changes(ns.handle)) ns.config_watcher = std::move(w.value());
    else spdlog::warn("{}route/rule changes will not be followed: {}", prefix, w.error());
    if (auto w = watch_ruleset_changes(ns.handle)) ns.nft_watcher = std::move(w.value());
    else spdlog::warn("{}ruleset changes will not be followed: {}", prefix, w.error());
    return ns;
}

std::vector<NetnsHandle> open_handles(const WatchOptions& options) {
    std::vector<std::string> specs = options.netns;
    if (specs.empty()) specs.push_back("");
    std::vector<NetnsHandle> handles;
    if (std::find(specs.begin(), specs.end(), "all") != specs.end()) {
        if (specs.size() > 1)
            throw FatalError("--netns all watches every namespace: give no other --netns", ErrorKind::usage);
        auto all = NetnsHandle::open_all();
        if (!all) throw FatalError(all.error());
        return std::move(all.value());
    }
    for (const std::string& spec : specs) {
        auto handle = NetnsHandle::open(spec);
        if (!handle) throw FatalError(handle.error(), ErrorKind::not_found);
        bool twice = false;
        for (const NetnsHandle& h : handles) twice = twice || h.inode() == handle->inode();
        if (twice) {
            spdlog::warn("{} is a namespace already given: watched once", handle->description());
            continue;
        }
        handles.push_back(std::move(handle.value()));
    }
    return handles;
}

Namespaces open_namespaces(const WatchOptions& options) {
    Namespaces spaces;
    std::vector<NetnsHandle> handles = open_handles(options);
    if (handles.size() > WGBPF_FILTER_MAX_NETNS)
        throw FatalError(fmt::format("{} network namespaces; wgbpf watches at most {} at once: name them with --netns",
                                     handles.size(), WGBPF_FILTER_MAX_NETNS),
                         ErrorKind::usage);
    if (options.nftrace && handles.size() > 1)
        throw FatalError("--nftrace traces one namespace: give one --netns", ErrorKind::usage);
    for (NetnsHandle& h : handles) spaces.list.push_back(open_namespace(std::move(h), options, handles.size() > 1));
    if (!options.iface.empty() && std::none_of(spaces.list.begin(), spaces.list.end(),
                                               [](const WatchedNamespace& ns) { return ns.iface_present; })) {
        std::string where;
        for (const WatchedNamespace& ns : spaces.list) where += (where.empty() ? "" : ", ") + ns.handle.description();
        throw FatalError(fmt::format("no interface '{}' in network namespace{} {}", options.iface,
                                     spaces.several() ? "s" : "", where),
                         ErrorKind::not_found);
    }
    spaces.place_sockets();
    return spaces;
}

void describe_scope(const Namespaces& spaces, const WatchOptions& options) {
    const bool any_wireguard = std::any_of(spaces.list.begin(), spaces.list.end(),
                                           [](const WatchedNamespace& n) { return n.wireguard.has_value(); });
    for (const WatchedNamespace& ns : spaces.list) {
        std::string what = options.iface.empty() ? "all interfaces"
                           : ns.iface_present    ? "interface " + options.iface
                           : any_wireguard       ? "the outer packets of WireGuard (no " + options.iface + " here)"
                                                 : "nothing for now (no " + options.iface + " here)";
        spdlog::info("watching {} in network namespace {} (inode {})", what, ns.handle.description(),
                     ns.handle.inode());
    }
    for (const WatchedNamespace& ns : spaces.list) {
        if (!ns.wireguard) continue;
        const WgInterface& wg = *ns.wireguard;
        std::string endpoints;
        for (const WgPeer& p : wg.peers)
            if (p.endpoint) endpoints += (endpoints.empty() ? "" : ", ") + p.endpoint->to_string();
        std::string socket;
        if (const WatchedNamespace* there = wg.socket_netns ? spaces.find(wg.socket_netns) : nullptr)
            socket = ", its UDP socket in " + there->handle.name();
        spdlog::info("{}{}: WireGuard ({}), fwmark {:#x}, listen port {}{}, {} peer(s){}{}: {}", spaces.prefix(ns),
                     wg.name, name_of(wg.implementation), wg.fwmark, wg.listen_port, socket, wg.peers.size(),
                     endpoints.empty() ? "" : ", endpoints ", endpoints,
                     wg.socket_netns == kSocketNotWatched  ? "its outer packets are not watched"
                     : wg.socket_netns == kSocketAmbiguous ? "its outer packets are watched, but not paired with it"
                                                           : "its outer packets are followed too");
    }
}

// The probe modules that could start; the others say why not and the tool goes on without them.
std::unique_ptr<ProbeModules> start_modules(const KernelFeatures& kernel, const wgbpf_filter& filter,
                                            EbpfProgram packet_filter, const Namespaces& spaces, uint32_t ringbuf_bytes,
                                            const std::function<bool()>& stopped) {
    std::vector<NamespaceRuleset> namespaces;
    for (const WatchedNamespace& ns : spaces.list) namespaces.push_back({&ns.handle, &ns.config.nft});
    auto m =
        ProbeModules::start(kernel, filter, std::move(packet_filter), ringbuf_bytes, std::move(namespaces), stopped);
    if (stopped()) return m;
    // WireGuard's own module alone shows no packet's path.
    if (!m->running(ModuleId::route) && !m->running(ModuleId::netfilter) && !m->running(ModuleId::drop) &&
        !m->running(ModuleId::device))
        throw FatalError("no probe module can run on this kernel (see above)");
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
        RecordingHeader header = RecordingHeader::for_this_process(options.command_line);
        header.snaplen = options.snaplen;
        auto w = RecordingWriter::open(
            options.record_path, header,
            {[&reasons](uint32_t r) { return reasons.name(r); }, [&symbols](uint64_t a) { return symbols.name(a); }});
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

// One watch, from attaching to the summary: start() attaches (nothing is shown if Ctrl-C comes first), run()
// ticks every 100 ms until asked to stop, finish() drains what is in flight and says what was seen.
class WatchSession {
public:
    WatchSession(const WatchOptions& options, const WatchHooks& hooks, EbpfProgram packet_filter)
        : options_(options), hooks_(hooks), packet_filter_(std::move(packet_filter)) {}
    // A watch that ended by itself (end of input, --count) leaves no SIGALRM behind; one that was asked to
    // stop keeps interrupting blocked writes until the process exits (live compare writes afterwards).
    ~WatchSession() {
        if (!g_stop) disarm_alarm();
    }

    bool start(); // false: stopped during start-up (what was attached is detached again)
    void run();
    int finish();

private:
    void tick(uint64_t now);
    void refresh_configuration(WatchedNamespace& ns, uint64_t now);
    void refresh_ruleset(WatchedNamespace& ns);
    void follow_interface();
    void report_losses();
    void read_traces();
    void record_config(const WatchedNamespace* only = nullptr);
    std::string netns_name(uint32_t netns) const { // "" when not one of the watched
        const WatchedNamespace* ns = spaces_.find(netns);
        return ns ? ns->handle.name() : std::string();
    }
    std::vector<WgInterface> primary_wireguard() { return spaces_.wireguard_for(spaces_.primary().handle.inode()); }
    const BracketPlan* plan(uint32_t netns) const {
        return modules_ && modules_->netfilter() ? modules_->netfilter()->plan(netns) : nullptr;
    }

    const WatchOptions& options_;
    const WatchHooks& hooks_;
    const EbpfProgram packet_filter_; // the expression, compiled before anything needs privileges
    Namespaces spaces_;
    DropReasons reasons_;
    KernelSymbols symbols_;
    std::unique_ptr<Recording> recording_;
    std::unique_ptr<ProbeModules> modules_;
    std::unique_ptr<OutputWriter> output_;
    std::unique_ptr<MetricsServer> metrics_; // --metrics
    std::unique_ptr<PcapngFile> pcapng_;     // --pcapng
    std::unique_ptr<EventPipeline> pipeline_;
    Nftrace nftrace_;
    std::unique_ptr<RingConsumer> consumer_;
    uint64_t start_ns_ = 0;
    uint64_t next_wireguard_refresh_ = 0;
    uint64_t lost_events_ = 0; // the kernel's, so far
};

bool WatchSession::start() {
    spaces_ = open_namespaces(options_);
    const wgbpf_filter filter = filter_for(spaces_, options_);
    describe_scope(spaces_, options_);
    auto kernel = probe_running_kernel();
    if (options_.no_fexit) kernel = without_fexit(std::move(kernel), "fentry/fexit not used (--no-fexit)");
    if (stopped_during_start_up()) return false;
    // The recording's file first: a path that cannot be written is said before seconds of loading.
    reasons_ = DropReasons::load();
    symbols_ = KernelSymbols::load();
    recording_ = std::make_unique<Recording>(options_, reasons_, symbols_);
    // How timelines are written, for the output and the pcapng file's comments alike (which never use colour).
    TextStyle style{options_.colour, int64_t(clock_ns(CLOCK_REALTIME)) - int64_t(clock_ns(CLOCK_MONOTONIC))};
    if (spaces_.several()) style.netns_name = [this](uint32_t netns) { return netns_name(netns); };
    if (!options_.pcapng_path.empty()) { // the pcapng file too
        auto file = PcapngFile::open(options_.pcapng_path, PcapngSection::for_this_host(options_.command_line), style,
                                     options_.snaplen, [this](uint32_t netns) { return netns_name(netns); });
        if (!file) throw FatalError(file.error());
        pcapng_ = std::move(file.value());
        spdlog::info("packets' first {} bytes to {} (pcapng)", options_.snaplen, options_.pcapng_path);
    }
    // The metrics' address too: one in use is said before the probes load.
    if (!options_.metrics_address.empty()) metrics_ = std::make_unique<MetricsServer>(options_.metrics_address);
    modules_ = start_modules(*kernel, filter, packet_filter_, spaces_, options_.ringbuf_kib * 1024,
                             [] { return g_stop.load(); });
    if (stopped_during_start_up()) return false;

    output_ = std::make_unique<OutputWriter>(std::cout, options_.json, style, [this](uint32_t netns, int ifindex) {
        const WatchedNamespace* ns = spaces_.find(netns);
        return ns ? ns->config.link_name(ifindex) : std::string();
    });
    if (options_.count) output_->limit(*options_.count);
    record_config();
    PipelineSources sources{[this](uint32_t netns) -> const NetnsConfig* {
                                const WatchedNamespace* ns = spaces_.find(netns);
                                return ns ? &ns->config : nullptr;
                            },
                            [this](uint32_t netns) { return plan(netns); },
                            [this](uint32_t netns) { return spaces_.wireguard_for(netns); },
                            [this](uint32_t reason) { return reasons_.name(reason); },
                            [this](uint64_t addr) { return symbols_.name(addr); },
                            !options_.expression.empty() || options_.sample_every > 1};
    PipelineSinks sinks;
    if (options_.steps) {
        sinks.route = [this](const RouteDecision& d) { output_->route(d); };
        sinks.netfilter = [this](const NetfilterStep& s) { output_->netfilter(s); };
        sinks.drop = [this](const DropStep& d) { output_->drop(d); };
    } else if (hooks_.timeline_sink) {
        sinks.timeline = [this](const PacketTimeline& t) {
            output_->handed_on(); // the summary's count: timelines the caller took
            if (metrics_) metrics_->metrics().add(t);
            if (pcapng_) pcapng_->timeline(t);
            hooks_.timeline_sink(t);
        };
    } else {
        sinks.timeline = [this](const PacketTimeline& t) {
            if (metrics_) metrics_->metrics().add(t);
            if (pcapng_ && !output_->full()) pcapng_->timeline(t); // --count holds for the file too
            output_->timeline(t);
        };
    }
    pipeline_ = std::make_unique<EventPipeline>(sources, sinks);
    if (options_.nftrace) nftrace_ = Nftrace::start(spaces_.primary(), options_); // one namespace (checked above)
    if (nftrace_.listener) pipeline_->enable_nftrace();
    auto consumer = RingConsumer::open(modules_->maps().events.get(), [this](std::span<const std::byte> record) {
        recording_->write([&](RecordingWriter& w) { return w.write_event(record); });
        pipeline_->feed(record);
    });
    if (!consumer) throw FatalError(consumer.error());
    consumer_ = std::move(consumer.value());
    if (stopped_during_start_up()) return false;
    modules_->set_filter(filter); // armed: from here on every module picks packets
    std::vector<std::pair<uint32_t, std::string>> watched;
    for (const WatchedNamespace& ns : spaces_.list) watched.emplace_back(ns.handle.inode(), ns.handle.name());
    output_->ready(modules_->statuses(), watched);
    return true;
}

// What commands watching on our behalf (compare, diagnose) see is the first namespace; the recording gets each.
void WatchSession::record_config(const WatchedNamespace* only) {
    if (hooks_.config_sink) hooks_.config_sink(spaces_.primary().config);
    if (hooks_.wireguard_sink) hooks_.wireguard_sink(primary_wireguard());
    for (const WatchedNamespace& ns : spaces_.list) {
        if (only && only != &ns) continue;
        const uint32_t inode = ns.handle.inode();
        ConfigSnapshot snapshot{inode, ns.config, spaces_.wireguard_for(inode),
                                spaces_.several() ? ns.handle.name() : ""};
        recording_->write([&](RecordingWriter& w) { return w.write_config(snapshot); });
        if (const BracketPlan* p = plan(inode))
            recording_->write([&](RecordingWriter& w) { return w.write_plan({inode, *p}); });
    }
}

void WatchSession::read_traces() {
    if (!nftrace_.listener || !readable(nftrace_.listener->fd())) return;
    const WatchedNamespace& traced = spaces_.primary();
    const NftraceNames names{
        [&](int ifindex) { return traced.config.link_name(ifindex); },
        [&](const std::string& family, const std::string& table, const std::string& chain, uint64_t handle) {
            const NftChain* c = traced.config.nft.chain(family, table, chain);
            const NftRule* r = c ? c->rule(handle) : nullptr;
            return r ? r->text : std::string();
        }};
    nftrace_.listener->drain(names, [&](NftraceEvent&& e) {
        ++nftrace_.received;
        recording_->write([&](RecordingWriter& w) { return w.write_nftrace(e); });
        pipeline_->trace(std::move(e));
    });
}

// The interface is followed by name, in each namespace: when it goes (deleted, moved away, or a WireGuard
// interface taken down by wg-quick), nothing of it is watched there and the watch goes on; when it comes
// back, possibly with another ifindex, the filter is armed again for it, and for WireGuard with its
// current configuration (and its socket's namespace, which may be another watched one).
void WatchSession::follow_interface() {
    if (options_.iface.empty()) return;
    for (WatchedNamespace& ns : spaces_.list) {
        const Link* link = ns.config.link_by_name(options_.iface);
        if (!link && ns.iface_present)
            spdlog::warn("interface {} is gone from {}: not watched there until it comes back", options_.iface,
                         ns.handle.description());
        if (link && !ns.iface_present)
            spdlog::info("interface {} is {} (ifindex {}) in {}: watched there", options_.iface,
                         ns.iface_seen ? "back" : "new", link->ifindex, ns.handle.description());
        ns.iface_present = link != nullptr;
        ns.iface_seen = ns.iface_seen || ns.iface_present;
    }
    spaces_.reread_wireguard(options_.iface);
    // What no longer fits the kernel's filter (the interface in more namespaces, more listen ports) is said,
    // and the filter stays as it was: the watch goes on.
    if (auto filter = scoped_filter(spaces_, options_)) modules_->set_filter(filter.value());
    else spdlog::warn("the in-kernel filter is not changed: {}", filter.error());
}

// Events the kernel lost since the last call: recorded, and marked on the timelines they touch.
void WatchSession::report_losses() {
    const PerModule fresh = modules_->new_losses();
    const uint64_t known_at = clock_ns(CLOCK_MONOTONIC); // after the read: every loss counted happened before it
    for (ModuleId module : modules_by_name()) {          // the order recordings always had
        const uint64_t n = fresh[module];
        if (!n) continue;
        lost_events_ += n;
        recording_->write([&](RecordingWriter& w) { return w.write_lost({module, n, known_at}); });
        pipeline_->lost(module, n, known_at);
    }
}

// Routing changes at most every 100 ms: a route storm must not cost a re-index per wake-up.
void WatchSession::refresh_configuration(WatchedNamespace& ns, uint64_t now) {
    if (!ns.config_watcher || now < ns.next_config_check || !readable(ns.config_watcher->fd())) return;
    const std::string prefix = spaces_.prefix(ns);
    ns.next_config_check = now + 100'000'000;
    ChangeWatcher::RoutingChanges changes = ns.config_watcher->drain_routing();
    if (!changes.read_again && !changes.routes.empty() && !ns.config.apply(changes.routes)) {
        spdlog::debug("{}a removed route was not in wgbpf's copy: reading the configuration again", prefix);
        changes.read_again = true;
    }
    if (changes.read_again) {
        spdlog::debug("{}links, addresses or rules changed: reading the configuration again", prefix);
        NftRuleset nft = std::move(ns.config.nft); // the ruleset has its own watcher
        if (auto fresh = read_netns_config(ns.handle)) ns.config = std::move(fresh.value());
        else spdlog::warn("{}cannot refresh the configuration: {}", prefix, fresh.error());
        ns.config.nft = std::move(nft);
        follow_interface();
        record_config(); // the interfaces' sockets may have moved too
    } else if (changes.any()) {
        record_config(&ns);
    }
}

void WatchSession::refresh_ruleset(WatchedNamespace& ns) {
    if (!ns.nft_watcher || !readable(ns.nft_watcher->fd()) || !ns.nft_watcher->drain()) return;
    const std::string prefix = spaces_.prefix(ns);
    spdlog::debug("{}the nftables ruleset changed: reading it again", prefix);
    auto fresh = read_nft_ruleset(ns.handle);
    if (!fresh) return spdlog::warn("{}cannot refresh the ruleset: {}", prefix, fresh.error());
    ns.config.nft = std::move(fresh.value());
    if (modules_->netfilter())
        if (auto moved = modules_->netfilter()->update_ruleset(ns.handle.inode(), ns.config.nft); !moved)
            spdlog::warn("{}netfilter hooks not moved with the ruleset: {}", prefix, moved.error());
    record_config(&ns);
}

// Everything but reading the ring buffer, once per wake-up.
void WatchSession::tick(uint64_t now) {
    read_traces();
    for (WatchedNamespace& ns : spaces_.list) {
        refresh_configuration(ns, now);
        refresh_ruleset(ns);
    }
    bool any_wireguard = std::any_of(spaces_.list.begin(), spaces_.list.end(),
                                     [](const WatchedNamespace& ns) { return ns.iface_present && ns.wireguard; });
    if (any_wireguard && now >= next_wireguard_refresh_) { // endpoints roam: follow them
        follow_interface();
        record_config();
        next_wireguard_refresh_ = now + 5'000'000'000ull;
    }
    report_losses();
}

void WatchSession::run() {
    start_ns_ = clock_ns(CLOCK_MONOTONIC);
    next_wireguard_refresh_ = start_ns_ + 5'000'000'000ull;
    if (options_.duration_s) arm_alarm(*options_.duration_s); // --duration ends the watch as a signal does
    while (!g_stop) {
        auto polled = consumer_->poll(100);
        if (!polled) throw FatalError(polled.error());
        uint64_t now = clock_ns(CLOCK_MONOTONIC);
        const uint64_t clock_now = now;
        tick(now);
        // Records still waiting in the ring buffer (a batch ended early): the newest event fed is how far the
        // story is known; judging against the clock would call packets idle, or WireGuard's steps missing,
        // whose events are merely not read yet.
        if (consumer_->more()) now = std::min(now, std::max(pipeline_->latest_event_ns(), uint64_t(1)));
        pipeline_->flush(now);
        if (WriteResult w = output_->flush(); w.state == WriteState::failed && !g_stop)
            throw FatalError("cannot write the output: " + w.error);
        else if (w.state == WriteState::closed || reader_gone(STDOUT_FILENO))
            break; // the reader went away (`| head`): nothing more to show
        recording_->write([&](RecordingWriter& w) { return w.write_flush(now); }); // replay finishes steps here too
        recording_->write([](RecordingWriter& w) { return w.flush(); });
        if (pcapng_) pcapng_->flush();
        if (hooks_.tick) hooks_.tick(clock_now, lost_events_, false);
        // The modules' counts at every wake-up, right after the timelines they made were counted: a scrape never
        // shows packets whose events are not counted yet.
        if (metrics_) metrics_->metrics().modules(modules_->statuses(pipeline_->events_per_module()));
        if (hooks_.keep_going && !hooks_.keep_going()) break;
        if (output_->full()) break;
    }
}

int WatchSession::finish() {
    // Asked to stop: from here on a blocked write is interrupted every second, so the way out takes a bounded
    // time however stdout is (not) read. What could not be written then is an error.
    if (g_stop) arm_alarm(1, 1);
    const uint64_t stopped_ns = clock_ns(CLOCK_MONOTONIC);
    // What is still in the buffer, batch by batch, for at most a tenth of a second: a stop stays prompt.
    for (uint64_t until = clock_ns(CLOCK_MONOTONIC) + 100'000'000; clock_ns(CLOCK_MONOTONIC) < until;) {
        auto drained = consumer_->poll(0);
        if (!drained || !consumer_->more()) break;
    }
    read_traces();
    report_losses();
    // Asked to stop (Ctrl-C, SIGTERM, --duration): what is still in flight is shown for 0.4 s at
    // most, the rest counted in the summary. The end of input or --count shows everything.
    const bool asked = g_stop;
    pipeline_->finish([&] { return asked && clock_ns(CLOCK_MONOTONIC) - stopped_ns > kFinishBudgetNs; });
    if (hooks_.tick) hooks_.tick(clock_ns(CLOCK_MONOTONIC), lost_events_, true);
    const double seconds = (clock_ns(CLOCK_MONOTONIC) - start_ns_) / 1e9;
    const auto statuses = modules_->statuses(pipeline_->events_per_module());
    recording_->write([&](RecordingWriter& w) { return w.write_end({seconds, 0, 0, statuses}); });
    output_->summary(statuses, pipeline_->decode_stats().rejected(), seconds,
                     options_.nftrace ? std::optional(nftrace_.summary(*pipeline_)) : std::nullopt,
                     pipeline_->lone_routes(), pipeline_->not_shown(),
                     options_.expression.empty() ? std::nullopt : std::optional(modules_->undecided()));
    if (hooks_.config_sink) hooks_.config_sink(spaces_.primary().config);
    if (hooks_.wireguard_sink && !options_.iface.empty()) { // as it is now: its handshake times moved on
        spaces_.reread_wireguard(options_.iface);
        hooks_.wireguard_sink(primary_wireguard());
    }
    if (hooks_.end_sink) hooks_.end_sink(statuses, seconds);
    uint64_t lost_all = 0; // the kernel's counts as the summary gives them (read last)
    for (const ModuleStatus& m : statuses) lost_all += m.lost;
    const uint64_t lost_device = lost_of(statuses, ModuleId::device);
    bool pcapng_written = !pcapng_ || pcapng_->finish(lost_device, lost_all - lost_device, clock_ns(CLOCK_MONOTONIC));
    if (WriteResult w = output_->flush(); w.state == WriteState::failed) {
        // What stdio still holds would be written again (and block again) at exit: dropped, said once here.
        __fpurge(stdout);
        std::cout.clear();
        spdlog::error("{}", w.err == EINTR
                                ? std::string("stdout was not being read when the watch stopped: output was lost")
                                : "cannot write the output: " + w.error);
        return exit_code::failure;
    }
    return pcapng_written ? exit_code::ok : exit_code::failure;
}

} // namespace

int run_watch(const WatchOptions& options, const WatchHooks& hooks) {
    install_signal_handlers(); // before anything slow: Ctrl-C during start-up still ends cleanly
    auto packet_filter = compile_packet_filter(options.expression);
    if (!packet_filter) throw FatalError(packet_filter.error(), ErrorKind::usage);
    if (auto missing = missing_capabilities(); !missing.empty()) {
        std::string list;
        for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
        throw FatalError(fmt::format("wgbpf watch needs root or the capabilities CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN "
                                     "and CAP_SYS_ADMIN; missing: {}",
                                     list),
                         ErrorKind::no_privileges);
    }
    auto session = std::make_unique<WatchSession>(
        options, hooks, std::move(packet_filter.value())); // never moved: its callbacks point into it
    if (!session->start()) return exit_code::ok;
    session->run();
    return session->finish();
}

} // namespace wgbpf
