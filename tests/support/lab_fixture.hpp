#pragma once
// Support for the end-to-end tests and the benchmarks (one library, wgbpf_test_support): the lab
// (scripts/lab.sh) as an RAII object, child processes with their stdout captured, scratch directories. The tests need root; without it they skip (Catch2 SKIP; a run in which
// every test skipped exits with code 4, CTest's SKIP_RETURN_CODE).
#include <sys/types.h>

#include <csignal>

#include <atomic>
#include <cstdint>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace wgbpf::e2e {

bool running_as_root();
// Why the end-to-end tests skip when not root, for SKIP(...).
std::string not_root_reason();

// Without trailing new lines and spaces (a command's one-line output).
std::string trimmed(std::string s);

// Single-quotes a word for /bin/sh.
std::string sh_quote(const std::string& word);

struct RunResult {
    int status = -1;    // exit code, or 128 + signal; -1 if it had to be killed after the timeout
    std::string output; // stdout (append 2>&1 to the command for stderr too)
};

// Runs `/bin/sh -c cmd`, waits at most `timeout` (then kills it), returns its status and stdout.
RunResult run_status(const std::string& cmd, std::chrono::milliseconds timeout = std::chrono::seconds(60));
// Same, but returns only stdout and throws std::runtime_error (with the output) unless it exits 0.
std::string run(const std::string& cmd, std::chrono::milliseconds timeout = std::chrono::seconds(60));

// A command started with `/bin/sh -c` in its own process group, stdout into a pipe that a thread
// drains (so a chatty child never blocks), stderr inherited. The destructor kills what is left.
class Process {
public:
    explicit Process(const std::string& cmd);
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const { return pid_; }
    const std::string& command() const { return cmd_; }
    bool running();
    // Waits until the process exits or the timeout passes; true if it exited.
    bool wait_for(std::chrono::milliseconds timeout);
    void interrupt() { signal(SIGINT); } // SIGINT to the process group, like Ctrl-C
    void signal(int sig);
    void kill(); // SIGKILL to the group and reap
    // Exit code (or 128 + signal) once it has exited.
    std::optional<int> exit_status() const { return status_; }
    // Everything read from stdout so far (all of it once the process has exited).
    std::string output();

private:
    void reap(int wstatus);
    void stop_reader();

    std::string cmd_;
    pid_t pid_ = -1;
    int out_fd_ = -1;
    std::optional<int> status_;
    std::mutex mutex_;
    std::string out_;
    std::atomic<bool> stop_{false};
    std::thread reader_;
};

// A private scratch directory (mkdtemp: no predictable /tmp names for a test that runs as root), removed
// with everything in it. Searchable by others (0711) so that a test can hand one file to another user.
class ScratchDir {
public:
    // /tmp/<prefix>-XXXXXX; `keep`: left in place (and said on stderr) for a look afterwards.
    explicit ScratchDir(const std::string& prefix = "wgbpf-e2e", bool keep = false);
    ~ScratchDir();
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    std::string file(const std::string& name) const { return path_ + "/" + name; }
    const std::string& path() const { return path_; }

private:
    std::string path_;
    bool keep_ = false;
};

// The lab's addresses (scripts/lab.sh).
constexpr const char* kTarget = "198.51.100.9";    // on the server's lo, reached through the tunnel
constexpr const char* kEndpoint = "203.0.113.123"; // the server's WireGuard endpoint
constexpr const char* kClientLan = "192.168.178.48";
constexpr const char* kRouterWan = "203.0.113.1"; // the router beyond the server's uplink: the gateway peers' far end
constexpr const char* kClientTunnel = "10.0.0.1";
constexpr int64_t kFwmark = 51820; // 0xca6c, wg-quick's fwmark and table
// For the server's namespace: angristan/wireguard-install's PostUp in nftables, masquerading what the peers
// send out of the uplink s0.
constexpr const char* kMasqueradePeers = "nft -f - <<'EOF'\n"
                                         "table ip nat {\n"
                                         "  chain postrouting {\n"
                                         "    type nat hook postrouting priority srcnat; policy accept;\n"
                                         "    oifname \"s0\" ip saddr 10.0.0.0/24 masquerade\n"
                                         "  }\n"
                                         "}\n"
                                         "EOF";

// The seed topology in namespaces: `scripts/lab.sh up` in the constructor (throws
// std::runtime_error with the script's output if it fails), `down` in the destructor. Honours
// WGBPF_LAB and WGBPF_LAB_WG like the script.
enum class LabKind {
    seed,      // the seed's wg-quick client
    container, // WGBPF_LAB_CONTAINER=1: the client's interface moved into <lab>-app, its socket left in the client's
};

// Which lab: "" fields come from the environment as the script reads them (WGBPF_LAB, WGBPF_LAB_WG) and
// from the source tree (scripts/lab.sh).
struct LabSpec {
    std::string name;   // WGBPF_LAB
    std::string wg;     // WGBPF_LAB_WG: the client's WireGuard interface
    std::string script; // the path of lab.sh
    int peers = 0;      // WGBPF_LAB_PEERS: the server a gateway for this many more peers in <lab>-peers
};

class Lab {
public:
    explicit Lab(LabKind kind = LabKind::seed, const LabSpec& spec = {});
    ~Lab();
    Lab(const Lab&) = delete;
    Lab& operator=(const Lab&) = delete;

    static std::string script(); // ${WGBPF_SOURCE_DIR}/scripts/lab.sh ($WGBPF_SOURCE_DIR, else the build's)

    const std::string& name() const { return name_; }
    std::string client_ns() const { return name_ + "-client"; }
    std::string router_ns() const { return name_ + "-router"; }
    std::string server_ns() const { return name_ + "-server"; }
    std::string app_ns() const { return name_ + "-app"; }     // LabKind::container
    std::string peers_ns() const { return name_ + "-peers"; } // LabSpec::peers
    // Gateway peer i (1..peers): its WireGuard interface and tunnel address (scripts/lab.sh).
    std::string peer_iface(int i) const { return wg_ + "p" + std::to_string(i); }
    static std::string peer_address(int i) { return "10.7.0." + std::to_string(i); }
    const std::string& wg_iface() const { return wg_; } // the client's WireGuard interface
    const std::string& up_log() const { return up_log_; }
    // "kernel" or the user-space implementation the script chose ("wireguard-go"), as it recorded it.
    std::string implementation() const;

    // The server's WireGuard interface, as scripts/lab.sh names it (WGBPF_LAB_WG_SERVER, else wgs0 or <wg>s).
    std::string server_wg_iface() const;

    // Kernel WireGuard (`ip -d link` says "wireguard") or a user-space implementation over TUN.
    bool kernel_wireguard(const std::string& role = "client", const std::string& iface = "") const;

    // `ip netns exec <role namespace> sh -c cmd`; role: "client", "router", "server", "app" or "peers".
    RunResult exec(const std::string& role, const std::string& cmd,
                   std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;

private:
    std::string name_;
    std::string wg_;
    std::string script_;
    std::string up_log_;
    std::string env_; // for scripts/lab.sh: the kind of lab, and its names when given
};

} // namespace wgbpf::e2e
