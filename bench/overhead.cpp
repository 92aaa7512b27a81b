// bench/overhead: what watching costs the traffic it watches, side by side with nftables tracing.
//
// Brings up its own lab (scripts/lab.sh, lab "wgbpfbench", WireGuard interface wgb0, so it can run
// beside the test suite's lab), starts an iperf3 server on the server's tunnel address and drives two
// loads through the tunnel from the client namespace: a saturating TCP stream and a flood of small UDP
// packets. Each load runs in interleaved rounds A B C D A B C D ...:
//   A  no tracing
//   B  `wgbpf watch --netns CLIENT --iface wgb0 --json` (every tunnel packet, inner and outer), output to a file
//   C  `wgbpf watch` whose filter matches nothing: an interface in the client namespace that is down and
//      carries no traffic (checked: the output must be empty). `--iface lo` would not do: output route lookups carry
//      iif = loopback, so it matches every locally sent packet.
//   D  nftables tracing as in the seed article (`meta nftrace set 1` at the top of every base chain of the
//      client's tables, for udp and icmp echo, plus tcp) with `nft monitor trace` writing to a file
//   E  `wgbpf watch` with an expression picking one ping flow that runs beside the load
//   T  `wgbpf top` on all tunnel traffic
// A third load, the gateway (issue 16): the lab's server as a road-warrior gateway for --peers peers (64), each its
// own WireGuard interface in LAB-peers, each with one TCP stream through the server, masqueraded out of its uplink
// to the router; wgbpf watches the server's interface (A B D E T; D: a chain tracing every packet at the gateway).
// and finally a profiling pass with kernel.bpf_stats_enabled=1 (B and C again, plus B at a fixed
// 100k packets/s) for the per-program cost: run_time_ns / run_cnt from `bpftool -j prog show`. Stats cost
// time themselves, so that pass is kept out of the ratios; their own share of each figure (two clock reads
// per run) is measured in the same run by an empty program of the benchmark's (stats_floor.bpf.c).
//
// Figures go to stdout; the last line is one JSON object. Progress goes to stderr. The lab, the trace
// rules, the sysctl and every child process are undone at exit, also after a failure or Ctrl-C.
// Exit: 0 ok, 1 failure, 2 usage, 3 not root.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <nlohmann/json.hpp>

#include "stats_floor.skel.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "lab_fixture.hpp"

#ifndef WGBPF_SOURCE_DIR
#define WGBPF_SOURCE_DIR "."
#endif

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// ---------------------------------------------------------------------------------------------------
// Interruption and child processes

std::atomic<bool> g_interrupted{false};

void on_signal(int) { g_interrupted = true; }

struct Interrupted : std::runtime_error {
    Interrupted() : std::runtime_error("interrupted") {}
};

void check_interrupted() {
    if (g_interrupted) throw Interrupted();
}

void say(const std::string& s) { std::cerr << "overhead: " << s << std::endl; }

std::string join(const std::vector<std::string>& v, const char* sep = " ") {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
    return out;
}

void sleep_s(double s) {
    auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(s);
    while (std::chrono::steady_clock::now() < until) {
        check_interrupted();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

// A started process; killed (TERM, then KILL) and reaped when it goes out of scope unless waited for.
class Child {
public:
    struct Exit {
        int status = -1;
        rusage usage{};
        bool timed_out = false;
        double cpu_s() const {
            return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
                   usage.ru_stime.tv_usec / 1e6;
        }
        bool ok() const { return !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0; }
        std::string describe() const {
            if (timed_out) return "timed out";
            if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
            if (WIFSIGNALED(status)) return std::string("killed by ") + strsignal(WTERMSIG(status));
            return "status " + std::to_string(status);
        }
    };

    Child() = default;
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    Child(Child&& o) noexcept : pid_(o.pid_), argv0_(std::move(o.argv0_)) { o.pid_ = -1; }
    Child& operator=(Child&& o) noexcept {
        if (this != &o) {
            stop();
            pid_ = o.pid_;
            argv0_ = std::move(o.argv0_);
            o.pid_ = -1;
        }
        return *this;
    }
    ~Child() { stop(); }

    // stdout/stderr to files ("" = /dev/null); stdin from /dev/null. The child gets its own process
    // group (Ctrl-C reaches only us, and we stop it in order) and SIGTERM if we die.
    static Child spawn(const std::vector<std::string>& argv, const std::string& out_path = "",
                       const std::string& err_path = "", const std::map<std::string, std::string>& env = {}) {
        if (argv.empty()) throw std::logic_error("spawn: empty argv");
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) throw std::runtime_error(std::string("fork: ") + strerror(errno));
        if (pid == 0) {
            setpgid(0, 0);
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent) _exit(127);
            signal(SIGINT, SIG_DFL);
            signal(SIGTERM, SIG_DFL);
            signal(SIGPIPE, SIG_DFL);
            int in = open("/dev/null", O_RDONLY);
            int out = open(out_path.empty() ? "/dev/null" : out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            int err = open(err_path.empty() ? "/dev/null" : err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (in < 0 || out < 0 || err < 0) _exit(126);
            dup2(in, 0);
            dup2(out, 1);
            dup2(err, 2);
            for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
            execvp(args[0], args.data());
            _exit(127);
        }
        Child c;
        c.pid_ = pid;
        c.argv0_ = argv[0];
        return c;
    }

    pid_t pid() const { return pid_; }
    bool running() const { return pid_ > 0; }

    void signal_it(int sig) const {
        if (pid_ > 0) kill(pid_, sig);
    }

    // Waits up to timeout_s; on time-out sends SIGKILL and reaps. Throws Interrupted when asked to stop
    // (the child is then stopped by the destructor).
    Exit wait(double timeout_s, bool interruptible = true) {
        Exit e;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
        while (true) {
            pid_t r = wait4(pid_, &e.status, WNOHANG, &e.usage);
            if (r == pid_) {
                pid_ = -1;
                return e;
            }
            if (r < 0 && errno != EINTR) throw std::runtime_error(std::string("wait4: ") + strerror(errno));
            if (std::chrono::steady_clock::now() >= deadline) {
                kill(pid_, SIGKILL);
                while (wait4(pid_, &e.status, 0, &e.usage) < 0 && errno == EINTR) {}
                pid_ = -1;
                e.timed_out = true;
                return e;
            }
            if (interruptible) check_interrupted();
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }

    // Whether it is still alive (reaps it if not: the exit is then lost, which callers treat as a failure).
    bool alive() {
        if (pid_ <= 0) return false;
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            exited_early_status_ = status;
            return false;
        }
        return true;
    }
    int early_status() const { return exited_early_status_; }

    void stop() {
        if (pid_ <= 0) return;
        kill(pid_, SIGTERM);
        int status = 0;
        for (int i = 0; i < 300; ++i) {
            if (waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        pid_ = -1;
    }

private:
    pid_t pid_ = -1;
    std::string argv0_;
    int exited_early_status_ = 0;
};

struct Captured {
    int status = -1;
    std::string out;
    std::string err;
    bool ok() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
};

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

fs::path g_workdir; // set in main: scratch files

// Runs a short command to completion, capturing its output. Not interruptible: for undoing things
// (destructors must not throw), and the commands are short.
Captured capture(const std::vector<std::string>& argv, double timeout_s = 60,
                 const std::map<std::string, std::string>& env = {}, bool interruptible = false) {
    static int n = 0;
    fs::path out = g_workdir / ("cmd" + std::to_string(++n) + ".out");
    fs::path err = g_workdir / ("cmd" + std::to_string(n) + ".err");
    Child c = Child::spawn(argv, out, err, env);
    Child::Exit e = c.wait(timeout_s, interruptible);
    Captured r;
    r.status = e.timed_out ? -1 : e.status;
    r.out = read_file(out);
    r.err = read_file(err);
    std::error_code ec;
    fs::remove(out, ec);
    fs::remove(err, ec);
    return r;
}

Captured must(const std::vector<std::string>& argv, double timeout_s = 60,
              const std::map<std::string, std::string>& env = {}) {
    Captured r = capture(argv, timeout_s, env, true);
    if (!r.ok()) {
        std::string err = r.err;
        while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
        throw std::runtime_error("`" + join(argv) + "` failed" + (err.empty() ? "" : ": " + err));
    }
    return r;
}

// ---------------------------------------------------------------------------------------------------
// Small readers

std::string trim(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    size_t i = 0;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    return s.substr(i);
}

// utime + stime of a live process, in seconds (/proc/PID/stat fields 14 and 15).
std::optional<double> proc_cpu_s(pid_t pid) {
    std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream in(stat.substr(close + 2));
    std::vector<std::string> f;
    std::string w;
    while (in >> w) f.push_back(w);
    // f[0] is field 3 (state): utime is field 14 -> f[11], stime f[12]
    if (f.size() < 13) return std::nullopt;
    double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    return (std::stod(f[11]) + std::stod(f[12])) / ticks;
}

// VmHWM of a live process, in KiB.
std::optional<long> proc_hwm_kib(pid_t pid) {
    std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/status"));
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
    return std::nullopt;
}

struct FileTail {
    uint64_t lines = 0;
    uint64_t bytes = 0;
    std::string last_line;
};

// Line count and last non-empty line of a possibly large file, streaming.
FileTail tail_of(const fs::path& p) {
    FileTail t;
    std::ifstream in(p, std::ios::binary);
    std::vector<char> buf(1 << 20);
    std::string current, last;
    while (in) {
        in.read(buf.data(), buf.size());
        std::streamsize n = in.gcount();
        t.bytes += n;
        for (std::streamsize i = 0; i < n; ++i) {
            if (buf[i] == '\n') {
                ++t.lines;
                if (!current.empty()) last.swap(current);
                current.clear();
            } else if (current.size() < (1u << 20)) {
                current.push_back(buf[i]);
            }
        }
    }
    if (!current.empty()) {
        ++t.lines;
        last.swap(current);
    }
    t.last_line = last;
    return t;
}

uint64_t count_lines_starting(const fs::path& p, const std::string& prefix) {
    std::ifstream in(p);
    std::string line;
    uint64_t n = 0;
    while (std::getline(in, line))
        if (line.rfind(prefix, 0) == 0) ++n;
    return n;
}

double median(std::vector<double> v) {
    v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
    if (v.empty()) return std::nan("");
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string fmt(double v, int prec = 1) {
    if (std::isnan(v)) return "-";
    char b[64];
    snprintf(b, sizeof b, "%.*f", prec, v);
    return b;
}

json num(double v, int prec = 3) {
    if (std::isnan(v)) return nullptr;
    double scale = std::pow(10.0, prec);
    return std::round(v * scale) / scale;
}

// ---------------------------------------------------------------------------------------------------
// Options

enum class Load { tcp, udp, udp100k, gateway };
const char* load_name(Load l) {
    switch (l) {
    case Load::tcp: return "tcp";
    case Load::udp: return "udp";
    case Load::udp100k: return "udp100k";
    case Load::gateway: return "gateway";
    }
    return "?";
}

struct Options {
    fs::path build_dir;
    fs::path wgbpf;
    fs::path lab_script = fs::path(WGBPF_SOURCE_DIR) / "scripts/lab.sh";
    int rounds = 3;
    double seconds = 5;
    std::string lab = "wgbpfbench";
    std::string lab_wg = "wgb0";
    bool profile = true;
    bool profile_only = false; // no rounds: only the per-program pass
    bool keep = false;
    std::vector<Load> loads = {Load::tcp, Load::udp, Load::gateway};
    int peers = 64; // the gateway load's
};

[[noreturn]] void usage(int code) {
    std::ostream& o = code ? std::cerr : std::cout;
    o << "usage: overhead [--build-dir DIR] [--rounds N] [--seconds S] [--wgbpf PATH] [--lab-script PATH]\n"
         "                [--lab NAME] [--lab-wg IF] [--loads LIST] [--peers N] [--no-profile] [--keep]   (as root)\n";
    if (code) {
        o << "(--help for more)\n";
        std::exit(code);
    }
    o << "  --build-dir DIR   where the wgbpf binary was built (default: the build dir this program is in)\n"
         "  --rounds N        interleaved rounds of A B C D per load (default 3)\n"
         "  --seconds S       length of each iperf3 run (default 5)\n"
         "  --wgbpf PATH      the wgbpf binary (default: DIR/wgbpf)\n"
         "  --lab-script P    scripts/lab.sh (default: the source tree's)\n"
         "  --lab NAME        lab name, WGBPF_LAB (default wgbpfbench)\n"
         "  --lab-wg IF       client WireGuard interface, WGBPF_LAB_WG (default wgb0)\n"
         "  --loads LIST      comma-separated, of tcp, udp, gateway (default all three)\n"
         "  --peers N         the gateway load's peers, each its own WireGuard interface and TCP stream (default 64)\n"
         "  --no-profile      skip the pass with kernel.bpf_stats_enabled=1 (per-program cost)\n"
         "  --profile-only    only that pass (B, C and E once per load; no ratios)\n"
         "  --keep            keep the scratch directory (wgbpf and nft outputs, iperf3 reports)\n"
         "Brings up its own lab, runs the loads without tracing (A), with `wgbpf watch` on all tunnel\n"
         "traffic (B), with a filter that matches nothing (C) and with nftables tracing (D), prints the\n"
         "figures and ends with one JSON line. Tears everything down at exit.\n";
    std::exit(code);
}

Options parse(int argc, char** argv) {
    Options o;
    auto value = [&](int& i) -> std::string {
        if (i + 1 >= argc) {
            std::cerr << "overhead: " << argv[i] << " needs a value\n";
            usage(2);
        }
        return argv[++i];
    };
    auto positive_int = [&](const std::string& s, const char* what) {
        try {
            size_t used = 0;
            long v = std::stol(s, &used);
            if (used == s.size() && v > 0 && v < 1000) return static_cast<int>(v);
        } catch (...) {}
        std::cerr << "overhead: " << what << " must be a whole number from 1 to 999, got '" << s << "'\n";
        usage(2);
    };
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-h" || a == "--help") usage(0);
        else if (a == "--build-dir") o.build_dir = value(i);
        else if (a == "--wgbpf") o.wgbpf = value(i);
        else if (a == "--lab-script") o.lab_script = value(i);
        else if (a == "--rounds") o.rounds = positive_int(value(i), "--rounds");
        else if (a == "--seconds") {
            std::string s = value(i);
            try {
                size_t used = 0;
                o.seconds = std::stod(s, &used);
                if (used != s.size() || !(o.seconds >= 1 && o.seconds <= 600)) throw std::invalid_argument(s);
            } catch (...) {
                std::cerr << "overhead: --seconds must be a number from 1 to 600, got '" << s << "'\n";
                usage(2);
            }
        } else if (a == "--lab") o.lab = value(i);
        else if (a == "--lab-wg") o.lab_wg = value(i);
        else if (a == "--peers") {
            o.peers = positive_int(value(i), "--peers");
            if (o.peers > 250) {
                std::cerr << "overhead: --peers must be at most 250 (scripts/lab.sh's WGBPF_LAB_PEERS)\n";
                usage(2);
            }
        } else if (a == "--loads") {
            o.loads.clear();
            std::stringstream list(value(i));
            for (std::string l; std::getline(list, l, ',');) {
                if (l == "tcp") o.loads.push_back(Load::tcp);
                else if (l == "udp") o.loads.push_back(Load::udp);
                else if (l == "gateway") o.loads.push_back(Load::gateway);
                else {
                    std::cerr << "overhead: unknown load '" << l << "' (tcp, udp, gateway)\n";
                    usage(2);
                }
            }
            if (o.loads.empty()) usage(2);
        } else if (a == "--no-profile") o.profile = false;
        else if (a == "--profile-only") o.profile_only = o.profile = true;
        else if (a == "--keep") o.keep = true;
        else {
            std::cerr << "overhead: unknown argument '" << a << "'\n";
            usage(2);
        }
    }
    if (o.profile_only && std::count(o.loads.begin(), o.loads.end(), Load::gateway) == int(o.loads.size())) {
        std::cerr
            << "overhead: --profile-only profiles the tcp and udp loads (the gateway load has no profiling pass)\n";
        usage(2);
    }
    if (o.build_dir.empty()) {
        // bench/overhead inside the build tree: the build dir is one up.
        std::error_code ec;
        fs::path self = fs::read_symlink("/proc/self/exe", ec);
        o.build_dir = ec ? fs::current_path() : self.parent_path().parent_path();
    }
    if (o.wgbpf.empty()) o.wgbpf = o.build_dir / "wgbpf";
    return o;
}

// ---------------------------------------------------------------------------------------------------
// The world the benchmark sets up, each part undone by its destructor (reverse order of creation).

// The lab and the scratch directory are the end-to-end tests' (tests/support/lab_fixture).
using wgbpf::e2e::Lab;
using wgbpf::e2e::ScratchDir;

// kernel.bpf_stats_enabled=1 while alive, the old value restored after.
class BpfStats {
public:
    BpfStats() {
        old_ = trim(read_file(kPath));
        write("1");
    }
    BpfStats(const BpfStats&) = delete;
    BpfStats& operator=(const BpfStats&) = delete;
    ~BpfStats() {
        if (!old_.empty()) write(old_);
    }

private:
    static constexpr const char* kPath = "/proc/sys/kernel/bpf_stats_enabled";
    static void write(const std::string& v) {
        std::ofstream out(kPath);
        out << v << "\n";
        if (!out) throw std::runtime_error(std::string("cannot write ") + kPath);
    }
    std::string old_;
};

// The seed article's trace rules (plus tcp) at the top of every base chain of the client's tables;
// removed by handle when this goes out of scope.
class NftTraceRules {
public:
    explicit NftTraceRules(const std::string& netns) : netns_(netns) {
        Captured r = must({"ip", "netns", "exec", netns_, "nft", "-j", "list", "chains"});
        json j = json::parse(r.out);
        const std::vector<std::string> matches = {"meta l4proto udp", "icmp type { echo-request, echo-reply }",
                                                  "meta l4proto tcp"};
        for (const auto& item : j.value("nftables", json::array())) {
            if (!item.contains("chain")) continue;
            const json& c = item["chain"];
            if (!c.contains("hook")) continue; // base chains only, as in the seed article
            std::string family = c.value("family", ""), table = c.value("table", ""), chain = c.value("name", "");
            for (const auto& m : matches) {
                std::string rule = m + " meta nftrace set 1";
                Captured ins = must({"ip", "netns", "exec", netns_, "nft", "--echo", "--handle", "insert", "rule",
                                     family, table, chain, rule});
                size_t h = ins.out.find("# handle ");
                if (h == std::string::npos) throw std::runtime_error("nft did not echo the new rule's handle");
                added_.push_back({family, table, chain, std::to_string(std::stoull(ins.out.substr(h + 9)))});
            }
            chains_.push_back(family + " " + table + " " + chain);
        }
        if (chains_.empty()) throw std::runtime_error("no base chains in " + netns_ + " to trace");
    }
    NftTraceRules(const NftTraceRules&) = delete;
    NftTraceRules& operator=(const NftTraceRules&) = delete;
    ~NftTraceRules() {
        for (const auto& r : added_) {
            Captured d = capture({"ip", "netns", "exec", netns_, "nft", "delete", "rule", r.family, r.table, r.chain,
                                  "handle", r.handle});
            if (!d.ok()) say("could not remove trace rule " + r.handle + " from " + r.chain + ": " + trim(d.err));
        }
    }
    const std::vector<std::string>& chains() const { return chains_; }

private:
    struct Added {
        std::string family, table, chain, handle;
    };
    std::string netns_;
    std::vector<Added> added_;
    std::vector<std::string> chains_;
};

constexpr const char* kGatewayTraceTable = "wgbpf_bench_trace";

// Tracing every packet a host handles, as one would at a gateway whose only base chains are NAT's (they see a
// connection's first packet only): a table of its own whose chains at the top of prerouting and output set nftrace
// on every packet. Deleted when this goes out of scope.
class NftTraceAll {
public:
    explicit NftTraceAll(const std::string& netns) : netns_(netns) {
        std::string t = kGatewayTraceTable;
        must({"ip", "netns", "exec", netns_, "nft",
              "add table ip " + t + "; add chain ip " + t +
                  " prerouting { type filter hook prerouting priority -350; }; "
                  "add rule ip " +
                  t +
                  " prerouting meta nftrace set 1; "
                  "add chain ip " +
                  t +
                  " output { type filter hook output priority -350; }; "
                  "add rule ip " +
                  t + " output meta nftrace set 1"});
    }
    NftTraceAll(const NftTraceAll&) = delete;
    NftTraceAll& operator=(const NftTraceAll&) = delete;
    ~NftTraceAll() {
        Captured d = capture({"ip", "netns", "exec", netns_, "nft", "delete", "table", "ip", kGatewayTraceTable});
        if (!d.ok()) say(std::string("could not remove the trace table ") + kGatewayTraceTable + ": " + trim(d.err));
    }
    std::vector<std::string> chains() const {
        return {std::string("ip ") + kGatewayTraceTable + " prerouting",
                std::string("ip ") + kGatewayTraceTable + " output"};
    }

private:
    std::string netns_;
};

// ---------------------------------------------------------------------------------------------------
// Modes, loads, runs

enum class Mode { none, all, nomatch, nftrace, filtered, top };
const char* mode_letter(Mode m) {
    switch (m) {
    case Mode::none: return "A";
    case Mode::all: return "B";
    case Mode::nomatch: return "C";
    case Mode::nftrace: return "D";
    case Mode::filtered: return "E";
    case Mode::top: return "T";
    }
    return "?";
}
const char* mode_name(Mode m) {
    switch (m) {
    case Mode::none: return "no tracing";
    case Mode::all: return "wgbpf, all tunnel traffic";
    case Mode::nomatch: return "wgbpf, filter matching nothing";
    case Mode::nftrace: return "nft monitor trace";
    case Mode::filtered: return "wgbpf, expression: one ping flow";
    case Mode::top: return "wgbpf top, all tunnel traffic";
    }
    return "?";
}

constexpr const char* kServerAddr = "10.0.0.254"; // the server's tunnel address (scripts/lab.sh)
constexpr int kUdpLen = 64;
constexpr const char* kNoMatchIf = "wgbnomatch0";
constexpr const char* kNoMatchPeer = "wgbnomatch1";
constexpr int kGatewayPort0 = 5300; // peer i's TCP stream goes to the router's iperf3 on port 5300 + i

struct ProgStat {
    std::string name;
    uint64_t run_cnt = 0;
    uint64_t run_time_ns = 0;
    int instances = 0;
    double ns_per_run() const { return run_cnt ? double(run_time_ns) / run_cnt : std::nan(""); }
};

// An empty program on netif_receive_skb, loaded for one profiled run: its ns per run is what the
// statistics themselves add to every program's figure (bench/stats_floor.bpf.c). Detached on destruction.
class StatsFloor {
public:
    StatsFloor() : skel_(wgbpf_stats_floor_bpf__open_and_load(), &wgbpf_stats_floor_bpf__destroy) {
        if (!skel_)
            throw std::runtime_error(std::string("cannot load the statistics' floor program: ") + std::strerror(errno));
        if (int err = wgbpf_stats_floor_bpf__attach(skel_.get()))
            throw std::runtime_error(std::string("cannot attach the statistics' floor program: ") +
                                     std::strerror(-err));
    }
    ProgStat read() const {
        bpf_prog_info info{};
        uint32_t len = sizeof(info);
        ProgStat s{"stats_floor"};
        if (bpf_prog_get_info_by_fd(bpf_program__fd(skel_->progs.stats_floor), &info, &len) == 0) {
            s.run_cnt = info.run_cnt;
            s.run_time_ns = info.run_time_ns;
            s.instances = 1;
        }
        return s;
    }

private:
    std::unique_ptr<wgbpf_stats_floor_bpf, void (*)(wgbpf_stats_floor_bpf*)> skel_;
};

struct RunResult {
    Mode mode = Mode::none;
    uint64_t flow_sent = 0, flow_seen = 0; // E: echo requests the ping sent, and shown as timelines
    Load load = Load::tcp;
    int round = 0; // 0 = profiling pass
    bool ok = false;
    std::string error;
    double seconds = 0;           // iperf3's measured duration
    double mbit_s = std::nan(""); // receiver throughput
    double rx_pps = std::nan(""); // UDP: packets received by the server per second
    double tx_pps = std::nan(""); // UDP: packets sent by the client per second
    // the tracer (wgbpf or nft monitor)
    bool traced = false;
    double tracer_cpu_load_s = std::nan("");  // CPU during the load only
    double tracer_cpu_total_s = std::nan(""); // CPU of the whole process life (start-up included)
    long rss_kib = 0;
    uint64_t events = 0;
    uint64_t lost = 0;
    uint64_t output_lines = 0;
    uint64_t output_bytes = 0;
    std::map<std::string, std::pair<uint64_t, uint64_t>> modules; // name -> events, lost
    std::vector<ProgStat> progs;
    ProgStat floor; // the statistics' own cost, measured during this run (StatsFloor)
    double events_per_s() const { return seconds > 0 ? events / seconds : std::nan(""); }
    // what the BPF programs produced: delivered + lost (ring buffer full)
    double offered_per_s() const { return seconds > 0 ? (events + lost) / seconds : std::nan(""); }
    double tracer_cpu_pct() const { return seconds > 0 ? 100 * tracer_cpu_load_s / seconds : std::nan(""); }
};

class Bench {
public:
    Bench(const Options& o, const Lab& lab) : o_(o), lab_(lab) {}

    void start_server() {
        server_ = Child::spawn({"ip", "netns", "exec", lab_.server_ns(), "iperf3", "-s", "-B", kServerAddr},
                               (g_workdir / "iperf3-server.log").string(), (g_workdir / "iperf3-server.err").string());
        for (int i = 0; i < 100; ++i) {
            Captured r = capture({"ip", "netns", "exec", lab_.server_ns(), "ss", "-Hltn", "sport = :5201"});
            if (r.ok() && !trim(r.out).empty()) return;
            if (!server_.alive())
                throw std::runtime_error("iperf3 server exited: " + trim(read_file(g_workdir / "iperf3-server.err")));
            sleep_s(0.05);
        }
        throw std::runtime_error("iperf3 server did not start listening on " + std::string(kServerAddr) + ":5201");
    }

    // The gateway load's far ends: one iperf3 server per peer on the router (one test at a time each).
    void start_gateway_sinks() {
        for (int i = 1; i <= o_.peers; ++i)
            sinks_.push_back(Child::spawn({"ip", "netns", "exec", lab_.router_ns(), "iperf3", "-s", "-B",
                                           wgbpf::e2e::kRouterWan, "-p", std::to_string(kGatewayPort0 + i)},
                                          "", (g_workdir / ("iperf3-sink-" + std::to_string(i) + ".err")).string()));
        for (int tries = 0; tries < 200; ++tries) {
            Captured r = capture({"ip", "netns", "exec", lab_.router_ns(), "ss", "-Hltn",
                                  "sport >= :" + std::to_string(kGatewayPort0 + 1) +
                                      " and sport <= :" + std::to_string(kGatewayPort0 + o_.peers)});
            if (r.ok() && std::count(r.out.begin(), r.out.end(), '\n') >= o_.peers) return;
            check_interrupted();
            sleep_s(0.05);
        }
        throw std::runtime_error("the gateway load's " + std::to_string(o_.peers) +
                                 " iperf3 servers did not all listen on " + wgbpf::e2e::kRouterWan);
    }

    // The nomatch filter's interface: a link in the client namespace that is down and has no address, so
    // no packet and no route lookup ever names it. A veth pair (kernels without the dummy driver have veth:
    // the lab is built of it).
    void add_nomatch_interface() {
        must({"ip", "-n", lab_.client_ns(), "link", "add", kNoMatchIf, "type", "veth", "peer", "name", kNoMatchPeer});
    }

    RunResult run(Mode mode, Load load, int round, bool profile = false) {
        RunResult r;
        r.mode = mode;
        r.load = load;
        r.round = round;
        std::string tag = std::string(mode_letter(mode)) + "-" + load_name(load) + "-" + std::to_string(round);
        try {
            switch (mode) {
            case Mode::none: run_load(r, tag); break;
            case Mode::all: run_wgbpf(r, tag, tunnel_iface(load), profile); break;
            case Mode::nomatch: run_wgbpf(r, tag, kNoMatchIf, profile); break;
            case Mode::nftrace: run_nftrace(r, tag); break;
            case Mode::filtered:
                run_wgbpf(r, tag, tunnel_iface(load), profile, std::string("icmp and host ") + flow_source(load));
                break;
            case Mode::top: run_wgbpf(r, tag, tunnel_iface(load), profile, "", "top"); break;
            }
        } catch (const Interrupted&) {
            throw;
        } catch (const std::exception& e) {
            r.ok = false;
            r.error = e.what();
        }
        return r;
    }

    std::vector<std::string> nft_chains, gateway_nft_chains;

private:
    // Where wgbpf watches: the client's tunnel, or the gateway's (the server's) interface.
    std::string watched_ns(Load load) const { return load == Load::gateway ? lab_.server_ns() : lab_.client_ns(); }
    std::string tunnel_iface(Load load) const {
        return load == Load::gateway ? lab_.server_wg_iface() : lab_.wg_iface();
    }
    // The ping flow mode E picks: from the client to the server's tunnel address, or from the first gateway peer to
    // the router.
    std::string flow_source(Load load) const { return load == Load::gateway ? Lab::peer_address(1) : kServerAddr; }
    std::vector<std::string> ping_args(Load load) const {
        std::vector<std::string> a = {"ip", "netns", "exec"};
        if (load == Load::gateway) a.insert(a.end(), {lab_.peers_ns(), "ping", "-I", Lab::peer_address(1)});
        else a.insert(a.end(), {lab_.client_ns(), "ping"});
        a.insert(a.end(), {"-n", "-q", "-i", "0.2", "-w", fmt(o_.seconds, 0),
                           load == Load::gateway ? wgbpf::e2e::kRouterWan : kServerAddr});
        return a;
    }
    // One of the ping's echo requests, as a timeline of wgbpf's.
    bool is_flow_request(const json& t, Load load) const {
        if (t.value("kind", "") != "timeline" || t.value("icmp_type", -1) != 8) return false;
        if (load == Load::gateway)
            return t.value("src", "") == Lab::peer_address(1) && t.value("dst", "") == wgbpf::e2e::kRouterWan;
        return t.value("dst", "") == kServerAddr;
    }

    std::vector<std::string> load_args(Load load) const {
        std::vector<std::string> a = {"ip",
                                      "netns",
                                      "exec",
                                      lab_.client_ns(),
                                      "iperf3",
                                      "-c",
                                      kServerAddr,
                                      "-t",
                                      fmt(o_.seconds, 3),
                                      "-J",
                                      "--connect-timeout",
                                      "3000"};
        if (load == Load::udp || load == Load::udp100k) {
            a.insert(a.end(), {"-u", "-l", std::to_string(kUdpLen), "-b"});
            // 100k packets/s of 64-byte payloads: 64 * 8 * 100000 bit/s
            a.push_back(load == Load::udp100k ? std::to_string(kUdpLen * 8 * 100000) : "0");
        }
        return a;
    }

    // Every gateway peer's TCP stream at once, from its own tunnel address; the throughput is their sum. Each sink
    // takes one test at a time: the load starts once the previous one's connections are gone, and is run again
    // once if a stream failed.
    void run_gateway_load(RunResult& r, const std::string& tag) {
        std::string error;
        for (int attempt = 0; attempt < 2; ++attempt) {
            wait_sinks_idle();
            error = try_gateway_load(r, tag + (attempt ? "-again" : ""));
            if (error.empty()) return;
            say("gateway load: " + error + (attempt ? "" : "; once more"));
            sleep_s(1);
        }
        throw std::runtime_error(error);
    }

    void wait_sinks_idle() {
        const std::string ports = "( sport >= :" + std::to_string(kGatewayPort0 + 1) +
                                  " and sport <= :" + std::to_string(kGatewayPort0 + o_.peers) + " )";
        for (int tries = 0; tries < 100; ++tries) {
            Captured c =
                capture({"ip", "netns", "exec", lab_.router_ns(), "ss", "-Htn", "state", "established", ports});
            if (c.ok() && trim(c.out).empty()) return;
            check_interrupted();
            sleep_s(0.05);
        }
    }

    // "" when every stream ran, else what failed.
    std::string try_gateway_load(RunResult& r, const std::string& tag) {
        std::vector<Child> clients;
        std::vector<fs::path> outs, errs;
        for (int i = 1; i <= o_.peers; ++i) {
            std::string name = "iperf3-" + tag + "-peer" + std::to_string(i);
            outs.push_back(g_workdir / (name + ".json"));
            errs.push_back(g_workdir / (name + ".err"));
            clients.push_back(
                Child::spawn({"ip", "netns", "exec", lab_.peers_ns(), "iperf3", "-c", wgbpf::e2e::kRouterWan, "-p",
                              std::to_string(kGatewayPort0 + i), "-B", Lab::peer_address(i), "-t", fmt(o_.seconds, 3),
                              "-J", "--connect-timeout", "3000"},
                             outs.back().string(), errs.back().string()));
        }
        double mbit_s = 0;
        std::vector<double> seconds;
        std::string first_error;
        int failed = 0;
        for (size_t k = 0; k < clients.size(); ++k) {
            Child::Exit e = clients[k].wait(o_.seconds + 30);
            json j = json::parse(read_file(outs[k]), nullptr, false);
            bool ok = e.ok() && !j.is_discarded() && j.is_object() && !j.contains("error") && j.contains("end") &&
                      j["end"].contains("sum_received");
            if (!ok) {
                if (first_error.empty())
                    first_error = "peer " + std::to_string(k + 1) + ": iperf3 " + e.describe() +
                                  (!j.is_discarded() && j.is_object() && j.contains("error")
                                       ? ": " + j["error"].get<std::string>()
                                       : ": " + trim(read_file(errs[k])));
                ++failed;
                continue;
            }
            RunResult stream; // one peer's stream, read as the tunnel's TCP load is
            stream.load = Load::tcp;
            parse_iperf(j, stream);
            mbit_s += stream.mbit_s;
            seconds.push_back(stream.seconds);
        }
        if (failed)
            return std::to_string(failed) + " of " + std::to_string(o_.peers) + " peers' streams failed (" +
                   first_error + ")";
        r.seconds = median(seconds);
        r.mbit_s = mbit_s;
        r.ok = r.seconds > 0;
        return r.ok ? "" : "iperf3 reported no interval";
    }

    // Runs iperf3 through the tunnel and fills throughput / packet rates.
    void run_load(RunResult& r, const std::string& tag) {
        if (r.load == Load::gateway) return run_gateway_load(r, tag);
        fs::path out = g_workdir / ("iperf3-" + tag + ".json");
        std::string last_error;
        for (int attempt = 0; attempt < 2; ++attempt) {
            Child c = Child::spawn(load_args(r.load), out.string(), (g_workdir / ("iperf3-" + tag + ".err")).string());
            Child::Exit e = c.wait(o_.seconds + 30);
            json j = json::parse(read_file(out), nullptr, false);
            if (!j.is_discarded() && j.is_object() && !j.contains("error") && e.ok()) {
                parse_iperf(j, r);
                if (r.seconds > 0) return;
                last_error = "iperf3 reported no interval";
            } else {
                last_error = "iperf3 " + e.describe();
                if (!j.is_discarded() && j.contains("error")) last_error += ": " + j["error"].get<std::string>();
            }
            sleep_s(1); // the server may still be finishing the previous test
        }
        throw std::runtime_error(last_error);
    }

    static void parse_iperf(const json& j, RunResult& r) {
        const json& end = j.at("end");
        if (r.load == Load::tcp) {
            const json& rx = end.at("sum_received");
            r.seconds = rx.value("seconds", 0.0);
            r.mbit_s = rx.value("bits_per_second", 0.0) / 1e6;
        } else {
            const json& tx = end.at("sum");
            const json& rx = end.contains("sum_received") ? end.at("sum_received") : tx;
            r.seconds = rx.value("seconds", 0.0);
            double tx_s = tx.value("seconds", r.seconds);
            // the sender's own count; the receiver's is its highest sequence number minus gaps
            uint64_t sent = tx.value("packets", uint64_t(0));
            if (end.contains("sum_sent")) sent = end["sum_sent"].value("packets", sent);
            uint64_t rx_packets = rx.value("packets", uint64_t(0)), rx_lost = rx.value("lost_packets", uint64_t(0));
            uint64_t received = rx_packets > rx_lost ? rx_packets - rx_lost : 0;
            if (tx_s > 0) r.tx_pps = sent / tx_s;
            if (r.seconds > 0) {
                r.rx_pps = received / r.seconds;
                r.mbit_s = rx.value("bits_per_second", 0.0) / 1e6;
            }
        }
        r.ok = r.seconds > 0;
    }

    // Until wgbpf's first JSON line {"kind":"ready",...}: every probe module is attached from then on (loading takes
    // seconds on a busy machine; a quiet moment on stderr is no sign of it).
    void wait_ready(Child& w, const fs::path& out, const fs::path& err) {
        auto start = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() - start < std::chrono::seconds(60)) {
            if (!w.alive())
                throw std::runtime_error("wgbpf exited during start-up (status " + std::to_string(w.early_status()) +
                                         "): " + trim(read_file(err)));
            std::ifstream in(out);
            std::string first;
            if (std::getline(in, first) && first.find("\"kind\":\"ready\"") != std::string::npos) return;
            sleep_s(0.05);
        }
        throw std::runtime_error("wgbpf did not get ready within 60 s");
    }

    std::vector<ProgStat> prog_stats(pid_t pid) {
        std::vector<ProgStat> out;
        Captured r = capture({"bpftool", "-j", "prog", "show"});
        if (!r.ok()) {
            say("bpftool -j prog show failed: " + trim(r.err));
            return out;
        }
        json j = json::parse(r.out, nullptr, false);
        if (!j.is_array()) return out;
        static const std::vector<std::string> prefixes = {"route_",    "rules_", "nf_bracket_",
                                                          "nf_chain_", "drop_",  "device_"};
        std::map<std::string, ProgStat> by_name;
        for (const auto& p : j) {
            std::string name = p.value("name", "");
            bool ours_by_name = std::any_of(prefixes.begin(), prefixes.end(),
                                            [&](const std::string& pre) { return name.rfind(pre, 0) == 0; });
            if (!ours_by_name) continue;
            bool ours = true;
            if (p.contains("pids")) { // another wgbpf (the test suite's) may be running: only our child's
                ours = false;
                for (const auto& holder : p["pids"])
                    if (holder.value("pid", -1) == pid) ours = true;
            }
            if (!ours) continue;
            ProgStat& s = by_name[name];
            s.name = name;
            s.run_cnt += p.value("run_cnt", uint64_t(0));
            s.run_time_ns += p.value("run_time_ns", uint64_t(0));
            s.instances++;
        }
        for (auto& [_, s] : by_name) out.push_back(s);
        return out;
    }

    // `expression`: only the packets it picks; a ping (5 a second) to the server runs beside the load, and its echo
    // requests shown as timelines are counted.
    // `command`: watch, or top (a JSON snapshot a second instead of timelines).
    void run_wgbpf(RunResult& r, const std::string& tag, const std::string& iface, bool profile,
                   const std::string& expression = "", const std::string& command = "watch") {
        fs::path out = g_workdir / ("wgbpf-" + tag + ".jsonl"), err = g_workdir / ("wgbpf-" + tag + ".err");
        std::vector<std::string> args = {o_.wgbpf.string(), command, "--netns", watched_ns(r.load),
                                         "--iface",         iface,   "--json"};
        if (!expression.empty()) args.push_back(expression);
        Child w = Child::spawn(args, out.string(), err.string());
        wait_ready(w, out, err);
        std::optional<StatsFloor> floor;
        if (profile) floor.emplace();
        double cpu0 = proc_cpu_s(w.pid()).value_or(0);
        std::optional<Child> ping;
        fs::path ping_out = g_workdir / ("ping-" + tag + ".txt");
        if (!expression.empty())
            ping.emplace(
                Child::spawn(ping_args(r.load), ping_out.string(), (g_workdir / ("ping-" + tag + ".err")).string()));
        run_load(r, tag);
        if (ping) {
            ping->wait(o_.seconds + 10);
            std::string text = read_file(ping_out);
            if (size_t at = text.find(" packets transmitted"); at != std::string::npos) {
                size_t from = text.rfind('\n', at);
                r.flow_sent = std::stoull(text.substr(from == std::string::npos ? 0 : from + 1, at));
            }
        }
        std::optional<double> cpu1 = proc_cpu_s(w.pid());
        std::optional<long> hwm = proc_hwm_kib(w.pid());
        if (profile) {
            r.progs = prog_stats(w.pid());
            r.floor = floor->read();
        }
        floor.reset();
        w.signal_it(SIGINT);
        Child::Exit e = w.wait(60);
        if (!e.ok()) throw std::runtime_error("wgbpf " + e.describe() + ": " + trim(read_file(err)));
        r.traced = true;
        if (cpu1) r.tracer_cpu_load_s = *cpu1 - cpu0;
        r.tracer_cpu_total_s = e.cpu_s();
        r.rss_kib = hwm.value_or(e.usage.ru_maxrss);
        FileTail t = tail_of(out);
        json summary = json::parse(t.last_line, nullptr, false);
        if (summary.is_discarded() || summary.value("kind", "") != "summary")
            throw std::runtime_error("wgbpf's last output line is not its summary: " + t.last_line.substr(0, 200));
        // output records: the summary counts them (the ready and summary lines are not records)
        r.output_lines = summary.value("records", t.lines ? t.lines - 1 : 0);
        r.output_bytes = t.bytes;
        r.lost = summary.value("lost", uint64_t(0));
        if (!expression.empty()) {
            std::ifstream in(out);
            for (std::string line; std::getline(in, line);) {
                json t = json::parse(line, nullptr, false);
                if (!t.is_discarded() && t.is_object() && is_flow_request(t, r.load)) ++r.flow_seen;
            }
        }
        for (const auto& m : summary.value("modules", json::array())) {
            uint64_t ev = m.value("events", uint64_t(0)), lost = m.value("lost", uint64_t(0));
            r.events += ev;
            r.modules[m.value("name", "?")] = {ev, lost};
        }
        if (!o_.keep) {
            std::error_code ec;
            fs::remove(out, ec); // can be hundreds of MB
        }
    }

    void run_nftrace(RunResult& r, const std::string& tag) {
        // the seed's rules in the client's chains, or a chain of its own tracing everything at the gateway
        std::optional<NftTraceRules> rules;
        std::optional<NftTraceAll> everything;
        if (r.load == Load::gateway) {
            everything.emplace(lab_.server_ns());
            gateway_nft_chains = everything->chains();
        } else {
            rules.emplace(lab_.client_ns());
            nft_chains = rules->chains();
        }
        fs::path out = g_workdir / ("nft-" + tag + ".txt"), err = g_workdir / ("nft-" + tag + ".err");
        Child m = Child::spawn({"ip", "netns", "exec", watched_ns(r.load), "nft", "monitor", "trace"}, out.string(),
                               err.string());
        sleep_s(0.5); // subscribed by then; there is no readiness signal
        if (!m.alive()) throw std::runtime_error("nft monitor trace exited: " + trim(read_file(err)));
        double cpu0 = proc_cpu_s(m.pid()).value_or(0);
        run_load(r, tag);
        std::optional<double> cpu1 = proc_cpu_s(m.pid());
        std::optional<long> hwm = proc_hwm_kib(m.pid());
        m.signal_it(SIGTERM);
        Child::Exit e = m.wait(30);
        r.traced = true;
        if (cpu1) r.tracer_cpu_load_s = *cpu1 - cpu0;
        r.tracer_cpu_total_s = e.cpu_s();
        r.rss_kib = hwm.value_or(e.usage.ru_maxrss);
        FileTail t = tail_of(out);
        r.output_lines = t.lines;
        r.output_bytes = t.bytes;
        r.events = count_lines_starting(out, "trace id ");
        if (!o_.keep) {
            std::error_code ec;
            fs::remove(out, ec);
        }
    }

    const Options& o_;
    const Lab& lab_;
    Child server_;
    std::vector<Child> sinks_;
};

// ---------------------------------------------------------------------------------------------------
// Report

std::string machine_line(const Lab& lab) {
    std::string cpu = "unknown CPU";
    std::istringstream in(read_file("/proc/cpuinfo"));
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) {
            cpu = trim(line.substr(line.find(':') + 1));
            break;
        }
    utsname u{};
    uname(&u);
    return std::to_string(std::thread::hardware_concurrency()) + " CPUs (" + cpu + "), Linux " + u.release + " " +
           u.machine + ", WireGuard: " + lab.implementation();
}

struct Summary {
    double tcp = std::nan(""), rx_pps = std::nan(""), tx_pps = std::nan("");
    double cpu_pct_tcp = std::nan(""), cpu_pct_udp = std::nan("");
    double ev_s_tcp = std::nan(""), ev_s_udp = std::nan("");
    double offered_tcp = std::nan(""), offered_udp = std::nan("");
    uint64_t lost = 0, events = 0, output_lines = 0;
    uint64_t flow_sent = 0, flow_seen = 0;
    long rss_kib = 0;
    int runs = 0, failed = 0;
};

Summary summarise(const std::vector<RunResult>& results, Mode mode) {
    Summary s;
    std::vector<double> tcp, rx, tx, cpu_t, cpu_u, ev_t, ev_u, off_t, off_u;
    for (const auto& r : results) {
        if (r.mode != mode || r.round == 0) continue;
        ++s.runs;
        if (!r.ok) {
            ++s.failed;
            continue;
        }
        if (r.load == Load::tcp || r.load == Load::gateway) { // throughput loads
            tcp.push_back(r.mbit_s);
            if (r.traced)
                cpu_t.push_back(r.tracer_cpu_pct()), ev_t.push_back(r.events_per_s()),
                    off_t.push_back(r.offered_per_s());
        } else {
            rx.push_back(r.rx_pps);
            tx.push_back(r.tx_pps);
            if (r.traced)
                cpu_u.push_back(r.tracer_cpu_pct()), ev_u.push_back(r.events_per_s()),
                    off_u.push_back(r.offered_per_s());
        }
        s.lost += r.lost;
        s.flow_sent += r.flow_sent;
        s.flow_seen += r.flow_seen;
        s.events += r.events;
        s.output_lines += r.output_lines;
        s.rss_kib = std::max(s.rss_kib, r.rss_kib);
    }
    s.tcp = median(tcp);
    s.rx_pps = median(rx);
    s.tx_pps = median(tx);
    s.cpu_pct_tcp = median(cpu_t);
    s.cpu_pct_udp = median(cpu_u);
    s.ev_s_tcp = median(ev_t);
    s.ev_s_udp = median(ev_u);
    s.offered_tcp = median(off_t);
    s.offered_udp = median(off_u);
    return s;
}

void print_run(const RunResult& r) {
    std::ostringstream o;
    o << mode_letter(r.mode) << " " << load_name(r.load) << (r.round ? " round " + std::to_string(r.round) : " profile")
      << ": ";
    if (!r.ok) {
        o << "FAILED: " << r.error;
    } else {
        if (r.load == Load::tcp || r.load == Load::gateway) o << fmt(r.mbit_s) << " Mbit/s";
        else o << fmt(r.rx_pps, 0) << " pkt/s received, " << fmt(r.tx_pps, 0) << " sent";
        if (r.traced)
            o << "; tracer " << fmt(r.tracer_cpu_pct()) << "% CPU, " << r.events << " events ("
              << fmt(r.events_per_s(), 0) << "/s), " << r.lost << " lost, " << r.output_lines << " lines";
    }
    say(o.str());
}

int run_benchmark(const Options& o) {
    const std::string loadavg_before = trim(read_file("/proc/loadavg"));
    ScratchDir scratch("wgbpf-bench", o.keep);
    g_workdir = scratch.path();
    say("bringing up lab '" + o.lab + "' (WireGuard " + o.lab_wg + ")");
    const bool gateway = std::count(o.loads.begin(), o.loads.end(), Load::gateway) > 0;
    std::vector<Load> loads; // the client's tunnel
    for (Load l : o.loads)
        if (l != Load::gateway) loads.push_back(l);
    Lab lab(wgbpf::e2e::LabKind::seed, {o.lab, o.lab_wg, o.lab_script.string(), gateway ? o.peers : 0});
    Bench bench(o, lab);
    bench.add_nomatch_interface();
    bench.start_server();
    if (gateway) bench.start_gateway_sinks();
    sleep_s(0.5);

    std::vector<RunResult> results, gateway_results;
    const std::vector<Mode> modes = {Mode::none, Mode::all, Mode::nomatch, Mode::nftrace, Mode::filtered, Mode::top};
    // the gateway has no interface to match nothing on; C is the client's
    const std::vector<Mode> gateway_modes = {Mode::none, Mode::all, Mode::nftrace, Mode::filtered, Mode::top};
    for (int round = 1; round <= (o.profile_only ? 0 : o.rounds); ++round) {
        for (Load load : loads)
            for (Mode mode : modes) {
                results.push_back(bench.run(mode, load, round));
                print_run(results.back());
                sleep_s(0.5);
            }
        if (gateway)
            for (Mode mode : gateway_modes) {
                gateway_results.push_back(bench.run(mode, Load::gateway, round));
                print_run(gateway_results.back());
                sleep_s(0.5);
            }
    }

    std::vector<RunResult> profiled;
    if (o.profile) {
        say("profiling pass: kernel.bpf_stats_enabled=1");
        BpfStats stats;
        for (Mode mode : {Mode::all, Mode::nomatch, Mode::filtered})
            for (Load load : loads) {
                profiled.push_back(bench.run(mode, load, 0, true));
                print_run(profiled.back());
                sleep_s(0.5);
            }
        if (std::count(loads.begin(), loads.end(), Load::udp)) {
            profiled.push_back(bench.run(Mode::all, Load::udp100k, 0, true));
            print_run(profiled.back());
        }
    }

    // ---- figures
    Summary A = summarise(results, Mode::none), B = summarise(results, Mode::all),
            C = summarise(results, Mode::nomatch), D = summarise(results, Mode::nftrace),
            E = summarise(results, Mode::filtered), T = summarise(results, Mode::top);
    auto ratio = [](double x, double base) { return base > 0 ? x / base : std::nan(""); };
    std::cout << "wgbpf overhead benchmark, " << machine_line(lab) << "\n";
    std::cout << "load average before: " << loadavg_before << ", after: " << trim(read_file("/proc/loadavg")) << "\n";
    if (!loads.empty()) {
        std::cout << o.rounds << " interleaved rounds x 6 modes x " << loads.size() << " loads, " << fmt(o.seconds, 0)
                  << " s each; iperf3 through the tunnel from " << lab.client_ns() << " to " << kServerAddr
                  << "; medians, ratios to A\n\n";
        std::cout << "mode                                TCP Mbit/s  ratio   UDP rx pkt/s  ratio   UDP tx pkt/s  ratio"
                     "   tracer CPU% tcp/udp   events/s tcp/udp      lost  peak RSS MiB\n";
        for (auto [m, s] : {std::pair{Mode::none, A},
                            {Mode::all, B},
                            {Mode::nomatch, C},
                            {Mode::nftrace, D},
                            {Mode::filtered, E},
                            {Mode::top, T}}) {
            char line[512];
            snprintf(line, sizeof line, "%s %-32s %10s %6s %14s %6s %14s %6s %10s/%-10s %9s/%-9s %8s %12s%s\n",
                     mode_letter(m), mode_name(m), fmt(s.tcp).c_str(), fmt(ratio(s.tcp, A.tcp), 3).c_str(),
                     fmt(s.rx_pps, 0).c_str(), fmt(ratio(s.rx_pps, A.rx_pps), 3).c_str(), fmt(s.tx_pps, 0).c_str(),
                     fmt(ratio(s.tx_pps, A.tx_pps), 3).c_str(), fmt(s.cpu_pct_tcp).c_str(), fmt(s.cpu_pct_udp).c_str(),
                     fmt(s.ev_s_tcp, 0).c_str(), fmt(s.ev_s_udp, 0).c_str(),
                     m != Mode::none && m != Mode::nftrace ? std::to_string(s.lost).c_str() : "-",
                     s.rss_kib ? fmt(s.rss_kib / 1024.0).c_str() : "-",
                     s.failed ? (" (" + std::to_string(s.failed) + " runs failed)").c_str() : "");
            std::cout << line;
        }
        std::cout
            << "\nB offered (events + lost) per s, tcp/udp: " << fmt(B.offered_tcp, 0) << "/" << fmt(B.offered_udp, 0)
            << "\n(events/s: delivered to wgbpf's user space; lost: ring buffer full, counted by the BPF programs.\n"
               " D's events are `nft monitor trace` lines starting 'trace id'; its tracer CPU is the nft process.\n"
               " Tracer CPU is utime+stime during the load; softirq work that runs while the tracer is current is\n"
               " charged to it when the kernel has no IRQ time accounting.)\n";
        std::cout << "E: the ping's echo requests shown as timelines: " << E.flow_seen << " of " << E.flow_sent
                  << " sent (all rounds, both loads)\n";
        if (!bench.nft_chains.empty()) std::cout << "D traced base chains: " << join(bench.nft_chains, ", ") << "\n";
        if (C.events || C.output_lines)
            std::cout << "WARNING: the filter meant to match nothing (C) let " << C.events << " events and "
                      << C.output_lines << " output lines through\n";
        for (const auto& r : results)
            if (r.mode == Mode::all && r.ok && !r.modules.empty() && r.round == 1) {
                std::cout << "B " << load_name(r.load) << " round 1, per module:";
                for (const auto& [name, el] : r.modules)
                    std::cout << " " << name << " " << el.first << " events/" << el.second << " lost;";
                std::cout << "\n";
            }
    }

    json bpf_all = json::object(), bpf_nomatch = json::object(), bpf_filtered = json::object(),
         machine_share = json::object();
    auto bpf_of = [&](Mode m) -> json& {
        return m == Mode::all ? bpf_all : m == Mode::nomatch ? bpf_nomatch : bpf_filtered;
    };
    double lost_100k = std::nan(""), tx_100k = std::nan(""), floor_ns = std::nan("");
    if (!profiled.empty()) {
        std::cout
            << "\nper BPF program, kernel.bpf_stats_enabled=1 (run_time_ns / run_cnt while the load ran; net: minus\n"
               "the statistics' floor, an empty program on netif_receive_skb timed in the same run):\n";
        for (const auto& r : profiled) {
            if (!r.ok) continue;
            std::cout << "  " << mode_letter(r.mode) << " " << load_name(r.load) << ": ";
            if (r.load == Load::tcp)
                std::cout << fmt(r.mbit_s) << " Mbit/s (" << fmt(ratio(r.mbit_s, A.tcp), 3) << " of A)";
            else
                std::cout << fmt(r.rx_pps, 0) << " pkt/s received (" << fmt(ratio(r.rx_pps, A.rx_pps), 3) << " of A), "
                          << fmt(r.tx_pps, 0) << " sent";
            std::cout << ", " << r.events << " events, " << r.lost << " lost\n";
            const double floor = r.floor.ns_per_run();
            if (r.load == Load::udp && r.mode == Mode::all) floor_ns = floor;
            auto print_prog = [&](const ProgStat& p) {
                char line[256];
                snprintf(line, sizeof line, "      %-18s %12llu runs  %8s ns/run  %8s net\n", p.name.c_str(),
                         static_cast<unsigned long long>(p.run_cnt), fmt(p.ns_per_run(), 1).c_str(),
                         fmt(p.ns_per_run() - floor, 1).c_str());
                std::cout << line;
            };
            print_prog(r.floor);
            int idle = 0;
            ProgStat brackets{"nf_bracket_* (all)"};
            for (const auto& p : r.progs) {
                if (!p.run_cnt) {
                    ++idle;
                    continue;
                }
                print_prog(p);
                if (r.load == Load::udp) bpf_of(r.mode)[p.name] = num(p.ns_per_run(), 1);
                if (p.name.rfind("nf_bracket_", 0) == 0) {
                    brackets.run_cnt += p.run_cnt;
                    brackets.run_time_ns += p.run_time_ns;
                }
            }
            if (brackets.run_cnt) {
                print_prog(brackets);
                if (r.load == Load::udp) bpf_of(r.mode)["nf_bracket_*"] = num(brackets.ns_per_run(), 1);
            }
            if (idle) std::cout << "      (" << idle << " more programs loaded that did not run)\n";
            // What tracing cost the machine, split: the programs' run time (the statistics' floor taken out)
            // and wgbpf's process, each as a share of all CPUs' time during the load.
            double bpf_ns = 0;
            for (const auto& p : r.progs)
                bpf_ns += double(p.run_time_ns) - (std::isfinite(floor) ? floor * double(p.run_cnt) : 0.0);
            const double machine_ns = r.seconds * 1e9 * std::max(1u, std::thread::hardware_concurrency());
            const double bpf_pct = machine_ns > 0 ? 100 * bpf_ns / machine_ns : std::nan("");
            const double user_pct = r.seconds > 0 ? 100 * r.tracer_cpu_load_s * 1e9 / machine_ns : std::nan("");
            std::cout << "      share of the machine's CPU time: BPF programs " << fmt(bpf_pct, 1)
                      << "%, wgbpf's process " << fmt(user_pct, 1) << "%\n";
            if (r.mode == Mode::filtered && r.load != Load::udp100k)
                machine_share[std::string("bpf_pct_filtered_") + load_name(r.load)] = num(bpf_pct, 1);
            if (r.mode == Mode::all && r.load != Load::udp100k) {
                machine_share[std::string("bpf_pct_") + load_name(r.load)] = num(bpf_pct, 1);
                machine_share[std::string("wgbpf_process_pct_") + load_name(r.load)] = num(user_pct, 1);
            }
            if (r.load == Load::udp100k) {
                lost_100k = static_cast<double>(r.lost);
                tx_100k = r.tx_pps;
            }
        }
    }

    // ---- the gateway load
    Summary GA = summarise(gateway_results, Mode::none), GB = summarise(gateway_results, Mode::all),
            GD = summarise(gateway_results, Mode::nftrace), GE = summarise(gateway_results, Mode::filtered),
            GT = summarise(gateway_results, Mode::top);
    if (gateway) {
        std::cout << "\ngateway: " << o.peers << " peers in " << lab.peers_ns()
                  << ", each its own WireGuard interface and one TCP "
                     "stream to "
                  << wgbpf::e2e::kRouterWan << " through " << lab.server_wg_iface() << " on " << lab.server_ns()
                  << " (decrypted, forwarded, masqueraded); wgbpf on " << lab.server_wg_iface()
                  << "; medians, ratios to A\n";
        std::cout
            << "mode                                Mbit/s (sum)  ratio   tracer CPU%   events/s      lost  peak RSS MiB\n";
        for (auto [m, g] :
             {std::pair{Mode::none, GA}, {Mode::all, GB}, {Mode::nftrace, GD}, {Mode::filtered, GE}, {Mode::top, GT}}) {
            char line[512];
            snprintf(line, sizeof line, "%s %-32s %12s %6s %13s %10s %9s %13s%s\n", mode_letter(m), mode_name(m),
                     fmt(g.tcp).c_str(), fmt(ratio(g.tcp, GA.tcp), 3).c_str(), fmt(g.cpu_pct_tcp).c_str(),
                     fmt(g.ev_s_tcp, 0).c_str(),
                     m != Mode::none && m != Mode::nftrace ? std::to_string(g.lost).c_str() : "-",
                     g.rss_kib ? fmt(g.rss_kib / 1024.0).c_str() : "-",
                     g.failed ? (" (" + std::to_string(g.failed) + " runs failed)").c_str() : "");
            std::cout << line;
        }
        std::cout << "E: peer 1's echo requests shown as timelines: " << GE.flow_seen << " of " << GE.flow_sent
                  << " sent\n";
        if (!bench.gateway_nft_chains.empty())
            std::cout << "D traced chains: " << join(bench.gateway_nft_chains, ", ") << "\n";
    }

    double rss_mib = std::max(B.rss_kib, C.rss_kib) / 1024.0;
    json line = json::object();
    if (!loads.empty())
        line = {
            {"throughput_ratio_all", num(ratio(B.tcp, A.tcp))},
            {"throughput_ratio_nomatch", num(ratio(C.tcp, A.tcp))},
            {"throughput_ratio_nftrace", num(ratio(D.tcp, A.tcp))},
            {"throughput_ratio_filtered", num(ratio(E.tcp, A.tcp))},
            {"pps_ratio_filtered", num(ratio(E.rx_pps, A.rx_pps))},
            {"lost_filtered", E.lost},
            {"throughput_ratio_top", num(ratio(T.tcp, A.tcp))},
            {"pps_ratio_top", num(ratio(T.rx_pps, A.rx_pps))},
            {"lost_top", T.lost},
            {"cpu_pct_all", num(B.cpu_pct_tcp, 1)},
            {"cpu_pct_top", num(T.cpu_pct_tcp, 1)},
            {"filtered_flow_seen", E.flow_seen},
            {"filtered_flow_sent", E.flow_sent},
            {"pps_ratio_all", num(ratio(B.rx_pps, A.rx_pps))},
            {"lost", B.lost},
            {"events_per_s", num(B.ev_s_udp, 0)},
            {"rss_mib", num(rss_mib, 1)},
            {"pps_ratio_nomatch", num(ratio(C.rx_pps, A.rx_pps))},
            {"pps_ratio_nftrace", num(ratio(D.rx_pps, A.rx_pps))},
            {"tx_pps_ratio_all", num(ratio(B.tx_pps, A.tx_pps))},
            {"tx_pps_ratio_nomatch", num(ratio(C.tx_pps, A.tx_pps))},
            {"tx_pps_ratio_nftrace", num(ratio(D.tx_pps, A.tx_pps))},
            {"untraced_mbit_s", num(A.tcp, 1)},
            {"untraced_rx_pps", num(A.rx_pps, 0)},
            {"untraced_tx_pps", num(A.tx_pps, 0)},
            {"events_per_s_tcp", num(B.ev_s_tcp, 0)},
            {"offered_events_per_s", num(B.offered_udp, 0)},
            {"offered_events_per_s_tcp", num(B.offered_tcp, 0)},
            {"wgbpf_cpu_pct_tcp", num(B.cpu_pct_tcp, 1)},
            {"wgbpf_cpu_pct_udp", num(B.cpu_pct_udp, 1)},
            {"nomatch_events", C.events},
            {"nft_cpu_pct_tcp", num(D.cpu_pct_tcp, 1)},
            {"lost_at_100k_pps", std::isnan(lost_100k) ? json(nullptr) : json(static_cast<uint64_t>(lost_100k))},
            {"tx_pps_at_100k", num(tx_100k, 0)},
            {"bpf_ns_per_run", bpf_all},
            {"bpf_ns_per_run_nomatch", bpf_nomatch},
            {"bpf_ns_per_run_filtered", bpf_filtered},
            {"bpf_stats_floor_ns", num(floor_ns, 1)},
            {"machine_cpu_pct_all", machine_share},
            {"rounds", o.rounds},
            {"seconds", o.seconds},
            {"failed_runs", A.failed + B.failed + C.failed + D.failed + E.failed + T.failed},
        };
    line["rounds"] = o.rounds;
    line["seconds"] = o.seconds;
    if (gateway) {
        line["gateway_peers"] = o.peers;
        line["gateway_untraced_mbit_s"] = num(GA.tcp, 1);
        line["gateway_throughput_ratio_all"] = num(ratio(GB.tcp, GA.tcp));
        line["gateway_throughput_ratio_top"] = num(ratio(GT.tcp, GA.tcp));
        line["gateway_throughput_ratio_filtered"] = num(ratio(GE.tcp, GA.tcp));
        line["gateway_throughput_ratio_nftrace"] = num(ratio(GD.tcp, GA.tcp));
        line["gateway_lost_all"] = GB.lost;
        line["gateway_lost_top"] = GT.lost;
        line["gateway_lost_filtered"] = GE.lost;
        line["gateway_cpu_pct_all"] = num(GB.cpu_pct_tcp, 1);
        line["gateway_cpu_pct_top"] = num(GT.cpu_pct_tcp, 1);
        line["gateway_cpu_pct_nftrace"] = num(GD.cpu_pct_tcp, 1);
        line["gateway_filtered_flow_seen"] = GE.flow_seen;
        line["gateway_filtered_flow_sent"] = GE.flow_sent;
        line["gateway_rss_mib"] = num(std::max({GB.rss_kib, GT.rss_kib, GE.rss_kib}) / 1024.0, 1);
        line["gateway_failed_runs"] = GA.failed + GB.failed + GD.failed + GE.failed + GT.failed;
    }
    std::cout << "\n" << line.dump() << std::endl;
    const int failed = A.failed + B.failed + C.failed + D.failed + E.failed + T.failed + GA.failed + GB.failed +
                       GD.failed + GE.failed + GT.failed;
    const size_t runs = results.size() + gateway_results.size();
    return runs > 0 && failed == static_cast<int>(runs) ? 1 : 0;
}

} // namespace

int main(int argc, char** argv) {
    Options o = parse(argc, argv);
    if (geteuid() != 0) {
        std::cerr << "overhead: must run as root (network namespaces, BPF, nftables); try: sudo " << argv[0] << "\n";
        return 3;
    }
    for (const char* tool : {"iperf3", "nft", "ip", "ss", "bpftool", "bash"}) {
        if (system((std::string("command -v ") + tool + " >/dev/null 2>&1").c_str()) != 0) {
            std::cerr << "overhead: missing tool '" << tool << "' (run scripts/setup.sh)\n";
            return 1;
        }
    }
    if (access(o.wgbpf.c_str(), X_OK) != 0) {
        std::cerr << "overhead: no wgbpf binary at " << o.wgbpf.string()
                  << " (build it, or give --build-dir / --wgbpf)\n";
        return 1;
    }
    if (access(o.lab_script.c_str(), R_OK) != 0) {
        std::cerr << "overhead: no lab script at " << o.lab_script.string() << " (give --lab-script)\n";
        return 1;
    }
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
    try {
        return run_benchmark(o);
    } catch (const Interrupted&) {
        say("interrupted; everything was torn down");
        return 130;
    } catch (const std::exception& e) {
        say(std::string("failed: ") + e.what());
        return 1;
    }
}
