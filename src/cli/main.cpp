// wgbpf: the packet path the kernel gave each packet (routing, netfilter, WireGuard), live.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "loader/libbpf_log.hpp"
#include "compare_command.hpp"
#include "diagnose_command.hpp"
#include "top_command.hpp"
#include "metrics_server.hpp"
#include "common/exit_codes.hpp"
#include "common/stderr_text.hpp"
#include "common/version.hpp"
#include "filter/packet_filter.hpp"
#include "watch_command.hpp"
#include "common/result.hpp"
#include "render/output_writer.hpp"
#include "render/terminal_text.hpp"
#include "record/replay.hpp"
#include "wgbpf/abi/events.h"

namespace {

// Log messages carry names from the kernel and files (interfaces, chains, rules): made safe for the
// terminal like the output (render/terminal_text).
class TerminalSafeMessage : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        std::string safe = wgbpf::terminal_safe(std::string_view(msg.payload.data(), msg.payload.size()));
        dest.append(safe.data(), safe.data() + safe.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<TerminalSafeMessage>(); }
};

// `--log-format json`: one object a line, {"level", "message", "program", "time"} (RFC 3339, UTC), for journald
// or Vector. The message is made terminal-safe first, then JSON-escaped (invalid UTF-8 replaced).
class JsonLogFormatter : public spdlog::formatter {
public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        using namespace std::chrono;
        const auto us = duration_cast<microseconds>(msg.time.time_since_epoch()).count();
        const std::time_t secs = std::time_t(us / 1'000'000);
        std::tm utc{};
        gmtime_r(&secs, &utc);
        char stamp[40];
        std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
        const auto level = spdlog::level::to_string_view(msg.level);
        nlohmann::json j{{"time", fmt::format("{}.{:06}Z", stamp, us % 1'000'000)},
                         {"level", std::string(level.data(), level.size())},
                         {"program", "wgbpf"},
                         {"message", wgbpf::terminal_field(std::string_view(msg.payload.data(), msg.payload.size()))}};
        const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        dest.append(line.data(), line.data() + line.size());
    }
    std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonLogFormatter>(); }
};

// Whether the command line asks for JSON logs: looked at before parsing, so that a usage error is logged as JSON too.
bool json_logs_asked(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--log-format=json") == 0) return true;
        if (std::strcmp(argv[i], "--log-format") == 0 && i + 1 < argc && std::strcmp(argv[i + 1], "json") == 0)
            return true;
    }
    return false;
}

void setup_logging(int verbosity, bool json) {
    auto logger = spdlog::get("wgbpf");
    if (!logger) logger = spdlog::stderr_color_mt("wgbpf"); // stdout carries only the output (text or JSON lines)
    if (json) {
        logger->set_formatter(std::make_unique<JsonLogFormatter>());
    } else {
        auto formatter = std::make_unique<spdlog::pattern_formatter>();
        formatter->add_flag<TerminalSafeMessage>('*').set_pattern("wgbpf: %^%l%$: %*");
        logger->set_formatter(std::move(formatter));
    }
    wgbpf::set_stderr_as_log(json);
    logger->set_level(verbosity >= 2   ? spdlog::level::trace
                      : verbosity == 1 ? spdlog::level::debug
                                       : spdlog::level::info);
    spdlog::set_default_logger(logger);
    wgbpf::route_libbpf_log_to_spdlog(verbosity >= 1);
}

// CLI11's own range message prints DBL_MAX in full; say it in words. `at_most` keeps values whose later
// arithmetic (seconds to nanoseconds) would overflow out, with the bound in the message.
CLI::Validator positive(const std::string& what, double at_most) {
    return CLI::Validator(
        [what, at_most](std::string& value) {
            try {
                size_t used = 0;
                double v = std::stod(value, &used);
                if (used == value.size() && v > 0 && v <= at_most) return std::string();
                if (used == value.size() && v > at_most)
                    return fmt::format("must be at most {} ({}), got '{}'", at_most, what, value);
            } catch (const std::exception&) {}
            return "must be a positive number (" + what + "), got '" + value + "'";
        },
        "POSITIVE");
}

// A count: a whole number from 1 to `at_most`, in digits (not 1e3, not 2.5).
CLI::Validator whole_count(const std::string& what, uint64_t at_most) {
    return CLI::Validator(
        [what, at_most](std::string& value) {
            bool digits = !value.empty() && value.find_first_not_of("0123456789") == std::string::npos;
            if (digits && value.size() <= 19 && std::stoull(value) >= 1 && std::stoull(value) <= at_most)
                return std::string();
            return fmt::format("must be a whole number from 1 to {} ({}), got '{}'", at_most, what, value);
        },
        "COUNT");
}

// Everything the command wrote reached stdout (or its reader went away, `| head`): else the run failed,
// whatever it did before.
int finished(int status) {
    wgbpf::WriteResult w = wgbpf::flush_output(std::cout);
    if (w.state != wgbpf::WriteState::failed) return status;
    spdlog::error("cannot write the output: {}", w.error);
    return wgbpf::exit_code::failure;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"wgbpf: per-packet path through policy routing, netfilter and WireGuard, observed with eBPF"};
    app.require_subcommand(1);
    int verbosity = 0;
    app.add_flag("-v,--verbose", verbosity, "more logs on stderr (-v debug incl. libbpf, -vv trace)");
    std::string log_format = "text";
    app.add_option("--log-format", log_format,
                   "stderr as text (default) or json: one object a line (time, level, program, message)")
        ->check(CLI::IsMember({"text", "json"}));
    app.set_version_flag("--version", "wgbpf " + std::string(wgbpf::wgbpf_version()));
    const bool json_logs = json_logs_asked(argc, argv);
    if (json_logs) setup_logging(0, true);

    const CLI::Validator file_name(
        [](std::string& v) { return v.empty() ? std::string("needs a file name") : std::string(); }, "FILE");
    wgbpf::WatchOptions watch;
    CLI::App* watch_cmd = app.add_subcommand("watch", "show packet paths live");
    watch_cmd->add_option("--iface,-i", watch.iface,
                          "traffic crossing this interface (and, for WireGuard, its outer packets)");
    watch_cmd
        ->add_option("--netns,-n", watch.netns,
                     "network namespace: NAME (/run/netns/NAME), a namespace file, or a PID (default: ours); repeated: "
                     "each of them, with WireGuard's inner and outer packets linked across them; `all`: every one")
        ->allow_extra_args(false); // one value per --netns
    watch_cmd->add_flag("--json", watch.json, "JSON lines on stdout (docs/json-schema.md)");
    watch_cmd
        ->add_option("-w,--write", watch.record_path,
                     "also write the raw events and the configuration they need to FILE (see `wgbpf replay`)")
        ->check(file_name);
    watch_cmd->add_flag(
        "--no-fexit", watch.no_fexit,
        "never use fentry/fexit (BPF trampolines), even where the kernel allows: kprobes and tracepoints only");
    CLI::Option* watch_steps = watch_cmd->add_flag(
        "--steps", watch.steps, "one line per step (route, netfilter, drop) instead of packet timelines");
    watch_cmd->add_flag("--nftrace", watch.nftrace,
                        "also ask nftables which rule decided in each chain (a temporary trace table owned by wgbpf; "
                        "Linux 5.12+)");
    constexpr double kMaxSeconds = 10.0 * 365 * 24 * 3600; // ten years: nanoseconds stay far from overflow
    watch_cmd->add_option("--duration", watch.duration_s, "stop after SECONDS (at most ten years)")
        ->check(positive("seconds", kMaxSeconds));
    watch_cmd->add_option("--count", watch.count, "stop after N output records (decisions, steps, drops)")
        ->check(whole_count("a count", 1'000'000'000'000'000'000ull));
    watch_cmd->add_option("--ringbuf-kib", watch.ringbuf_kib, "ring buffer size in KiB (power of two)")
        ->check(CLI::Range(64u, 1u << 20))
        ->check([](const std::string& s) {
            unsigned long v = std::stoul(s);
            return (v & (v - 1)) == 0 ? std::string() : std::string("must be a power of two");
        });
    watch_cmd
        ->add_option("--sample", watch.sample_every,
                     "follow 1 flow in N (decided in the kernel by a hash of addresses, protocol and ports; both "
                     "directions alike; a WireGuard interface's outer packets follow their inner ones)")
        ->check(CLI::Range(1, 65535));
    std::vector<std::string> expression;
    watch_cmd->add_option("expression", expression,
                          "tcpdump-syntax filter (pcap-filter(7)), e.g. 'icmp and host 198.51.100.9': only the packets "
                          "it picks, inner or outer, and the outer or inner packets that carry them (docs/filters.md)");
    const CLI::Validator metrics_address(
        [](std::string& v) {
            std::string problem = wgbpf::metrics_address_problem(v);
            return problem;
        },
        "ADDR:PORT");
    watch_cmd
        ->add_option("--metrics", watch.metrics_address,
                     "serve Prometheus counters at http://ADDR:PORT/metrics (docs/metrics.md)")
        ->check(metrics_address);
    std::optional<uint16_t> snaplen;
    constexpr uint16_t kDefaultSnaplen = 128; // IP, UDP and WireGuard's header, or an inner TCP header with options
    watch_cmd
        ->add_option("--pcapng", watch.pcapng_path,
                     "also write the packets' bytes to FILE for Wireshark/tshark: one packet per device it crossed, "
                     "its timeline as the comment (docs/pcapng.md)")
        ->check(file_name)
        ->excludes(watch_steps); // pcapng holds packets, and --steps makes no packet timelines
    watch_cmd
        ->add_option("--snaplen", snaplen,
                     "bytes captured per device crossing, from the IP header (default 128 with --pcapng; at most 256; "
                     "recordings (-w) carry them too)")
        ->check(CLI::Range(1, WGBPF_SNAPLEN_MAX));
    std::string colour = "auto";
    watch_cmd->add_option("--colour,--color", colour, "auto|always|never")
        ->check(CLI::IsMember({"auto", "always", "never"}));

    wgbpf::TopOptions top;
    CLI::App* top_cmd =
        app.add_subcommand("top", "count every watched packet by the path it took, live (like top; docs/top.md)");
    top_cmd->add_option("--iface,-i", top.watch.iface, "as for watch");
    top_cmd->add_option("--netns,-n", top.watch.netns, "as for watch")->allow_extra_args(false);
    top_cmd->add_flag("--json", top.watch.json, "a JSON line per snapshot on stdout (docs/json-schema.md, \"top\")");
    top_cmd->add_option("--interval", top.interval_s, "a snapshot every SECONDS (default 1)")
        ->check(positive("seconds", 3600));
    top_cmd->add_option("--rows", top.rows, "at most N paths per snapshot (default: 20 as text, all as JSON)")
        ->check(whole_count("a count", 1'000'000));
    top_cmd->add_flag("--examples", top.examples, "each path's first packet under it");
    top_cmd->add_option("--duration", top.watch.duration_s, "stop after SECONDS (at most ten years)")
        ->check(positive("seconds", kMaxSeconds));
    top_cmd->add_option("--sample", top.watch.sample_every, "as for watch")->check(CLI::Range(1, 65535));
    top_cmd->add_flag("--no-fexit", top.watch.no_fexit, "as for watch");
    top_cmd->add_option("--metrics", top.watch.metrics_address, "as for watch")->check(metrics_address);
    std::vector<std::string> top_expression;
    top_cmd->add_option("expression", top_expression, "tcpdump-syntax filter, as for watch (docs/filters.md)");
    std::string top_colour = "auto";
    top_cmd->add_option("--colour,--color", top_colour, "auto|always|never")
        ->check(CLI::IsMember({"auto", "always", "never"}));

    wgbpf::ReplayOptions replay;
    CLI::App* replay_cmd =
        app.add_subcommand("replay", "show a recording made with `watch -w FILE` (any host, no root)");
    replay_cmd->add_option("file", replay.path, "the recording")->required();
    replay_cmd->add_flag("--json", replay.json, "JSON lines on stdout (docs/json-schema.md)");
    CLI::Option* replay_steps = replay_cmd->add_flag(
        "--steps", replay.steps, "one line per step (route, netfilter, drop) instead of packet timelines");
    replay_cmd
        ->add_option("--pcapng", replay.pcapng_path,
                     "also write the recorded packets' bytes to FILE (recorded with --snaplen or --pcapng)")
        ->check(file_name)
        ->excludes(replay_steps);
    std::string replay_colour = "auto";
    replay_cmd->add_option("--colour,--color", replay_colour, "auto|always|never")
        ->check(CLI::IsMember({"auto", "always", "never"}));

    wgbpf::CompareOptions compare;
    CLI::App* compare_cmd = app.add_subcommand(
        "compare", "line up saved `nft monitor trace` output with a recording's packets, chain by chain");
    compare_cmd->add_option("--nftrace", compare.nftrace_path, "`nft monitor trace` output saved to FILE (- = stdin)")
        ->required();
    compare_cmd->add_option("recording", compare.recording, "a recording made with `watch -w FILE` at the same time");
    compare_cmd->add_flag("--json", compare.json, "JSON lines on stdout (docs/json-schema.md)");
    compare_cmd->add_option("--iface,-i", compare.watch.iface,
                            "live (no RECORDING): the interface to watch, as for watch");
    std::string compare_netns;
    compare_cmd->add_option("--netns,-n", compare_netns, "live: the network namespace to watch, as for watch (one)");
    compare_cmd
        ->add_option("--duration", compare.watch.duration_s,
                     "live: stop after SECONDS (else at the end of stdin or Ctrl-C)")
        ->check(positive("seconds", kMaxSeconds));
    compare_cmd->add_flag("--no-fexit", compare.watch.no_fexit, "live: as for watch");

    wgbpf::DiagnoseOptions diagnose;
    CLI::App* diagnose_cmd = app.add_subcommand(
        "diagnose", "check a WireGuard set-up, watch it, and say what to change (docs/diagnose.md; exit 5: findings)");
    diagnose_cmd->add_option("--iface,-i", diagnose.watch.iface, "the WireGuard interface");
    std::string diagnose_netns;
    diagnose_cmd->add_option("--netns,-n", diagnose_netns, "its network namespace (name or path)");
    diagnose_cmd->add_option("--duration", diagnose.watch.duration_s, "watch for SECONDS (default 10)")
        ->check(positive("seconds", kMaxSeconds));
    diagnose_cmd->add_option("-r,--recording", diagnose.recording,
                             "read a recording (watch -w FILE) instead of watching");
    diagnose_cmd->add_flag("--json", diagnose.json, "one JSON object on stdout");
    diagnose_cmd->add_flag("--no-fexit", diagnose.watch.no_fexit, "as for watch");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        if (!json_logs) {
            app.exit(e);
            return wgbpf::exit_code::usage;
        }
        spdlog::error("{}", e.what());
        return wgbpf::exit_code::usage;
    }
    setup_logging(verbosity, log_format == "json");

    try {
        if (watch_cmd->parsed()) {
            watch.command_line.assign(argv, argv + argc);
            watch.expression = wgbpf::expression_of(expression);
            watch.colour = colour == "always" || (colour == "auto" && isatty(STDOUT_FILENO) && !watch.json);
            watch.snaplen = snaplen ? *snaplen : watch.pcapng_path.empty() ? 0 : kDefaultSnaplen;
            return finished(wgbpf::run_watch(watch));
        }
        if (top_cmd->parsed()) {
            top.watch.command_line.assign(argv, argv + argc);
            top.watch.expression = wgbpf::expression_of(top_expression);
            top.watch.colour =
                top_colour == "always" || (top_colour == "auto" && isatty(STDOUT_FILENO) && !top.watch.json);
            return finished(wgbpf::run_top(top));
        }
        if (replay_cmd->parsed()) {
            replay.colour =
                replay_colour == "always" || (replay_colour == "auto" && isatty(STDOUT_FILENO) && !replay.json);
            return finished(wgbpf::run_replay(replay));
        }
        if (diagnose_cmd->parsed()) {
            diagnose.watch.command_line.assign(argv, argv + argc);
            if (diagnose_netns == "all")
                throw wgbpf::FatalError("diagnose takes one namespace, not all", wgbpf::ErrorKind::usage);
            if (!diagnose_netns.empty()) diagnose.watch.netns = {diagnose_netns};
            return finished(wgbpf::run_diagnose(diagnose));
        }
        if (compare_cmd->parsed()) {
            compare.watch.command_line.assign(argv, argv + argc);
            if (compare_netns == "all")
                throw wgbpf::FatalError("compare takes one namespace, not all", wgbpf::ErrorKind::usage);
            if (!compare_netns.empty()) compare.watch.netns = {compare_netns};
            return finished(wgbpf::run_compare(compare));
        }
    } catch (const wgbpf::FatalError& e) {
        spdlog::error("{}", e.what());
        return wgbpf::exit_code_of(e.kind());
    } catch (const std::exception& e) {
        spdlog::error("unexpected: {}", e.what());
        return wgbpf::exit_code::failure;
    }
    return wgbpf::exit_code::usage;
}
