#include "lab_fixture.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>

#ifndef WGBPF_SOURCE_DIR
#error "WGBPF_SOURCE_DIR must be defined (tests/CMakeLists.txt)"
#endif

namespace wgbpf::e2e {

namespace {

std::string env_or(const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : std::string(fallback);
}

std::string status_text(int status) {
    if (status < 0) return "killed after the timeout";
    if (status > 128) return "killed by signal " + std::to_string(status - 128);
    return "exit status " + std::to_string(status);
}

} // namespace

bool running_as_root() { return geteuid() == 0; }

std::string not_root_reason() {
    return "end-to-end tests need root (network namespaces, WireGuard, nftables, BPF); running as uid " +
           std::to_string(geteuid()) + ": skipped";
}

std::string sh_quote(const std::string& word) {
    std::string out = "'";
    for (char c : word) {
        if (c == '\'') out += "'\\''";
        else out += c;
    }
    return out + "'";
}

// ---- Process ----

Process::Process(const std::string& cmd) : cmd_(cmd) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        throw std::runtime_error(std::string("fork: ") + std::strerror(e));
    }
    if (pid == 0) {
        // Child: own process group (signals reach the whole command), default signal handling,
        // dies with the test, stdout into the pipe.
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, nullptr);
        for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGCHLD, SIGQUIT, SIGHUP}) ::signal(sig, SIG_DFL);
        if (dup2(fds[1], STDOUT_FILENO) < 0) _exit(127);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, STDIN_FILENO);
        execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    setpgid(pid, pid); // also in the parent: no race with an early signal()
    close(fds[1]);
    pid_ = pid;
    out_fd_ = fds[0];
    reader_ = std::thread([this] {
        char buf[65536];
        for (;;) {
            pollfd p{out_fd_, POLLIN, 0};
            int n = poll(&p, 1, 100);
            if (n < 0 && errno == EINTR) continue;
            if (n == 0) {
                // Nothing to read: stop if asked (a grandchild may keep the pipe open forever).
                if (stop_.load()) break;
                continue;
            }
            ssize_t r = read(out_fd_, buf, sizeof buf);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            std::lock_guard<std::mutex> lock(mutex_);
            out_.append(buf, static_cast<size_t>(r));
        }
    });
}

Process::~Process() {
    if (!status_) kill();
    stop_reader();
}

void Process::reap(int wstatus) {
    if (WIFEXITED(wstatus)) status_ = WEXITSTATUS(wstatus);
    else if (WIFSIGNALED(wstatus)) status_ = 128 + WTERMSIG(wstatus);
    else status_ = -1;
}

void Process::stop_reader() {
    stop_.store(true);
    if (reader_.joinable()) reader_.join();
    if (out_fd_ >= 0) {
        close(out_fd_);
        out_fd_ = -1;
    }
}

bool Process::running() {
    if (status_) return false;
    int wstatus = 0;
    pid_t r = waitpid(pid_, &wstatus, WNOHANG);
    if (r == pid_) {
        reap(wstatus);
        return false;
    }
    return r == 0;
}

bool Process::wait_for(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // Exited: the reader sees EOF (or, with the pipe still held by a leftover grandchild, gives
    // up after its next idle poll).
    stop_reader();
    return true;
}

void Process::signal(int sig) {
    if (!status_ && pid_ > 0) ::kill(-pid_, sig);
}

void Process::kill() {
    if (status_ || pid_ <= 0) return;
    ::kill(-pid_, SIGKILL);
    int wstatus = 0;
    while (waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {}
    reap(wstatus);
    stop_reader();
}

std::string Process::output() {
    std::lock_guard<std::mutex> lock(mutex_);
    return out_;
}

// ---- run ----

RunResult run_status(const std::string& cmd, std::chrono::milliseconds timeout) {
    Process p(cmd);
    RunResult result;
    if (!p.wait_for(timeout)) {
        p.kill();
        result.status = -1;
    } else {
        result.status = p.exit_status().value_or(-1);
    }
    result.output = p.output();
    return result;
}

std::string run(const std::string& cmd, std::chrono::milliseconds timeout) {
    RunResult r = run_status(cmd, timeout);
    if (r.status != 0)
        throw std::runtime_error("command failed (" + status_text(r.status) + "): " + cmd + "\n" + r.output);
    return r.output;
}

// ---- Lab ----

// $WGBPF_SOURCE_DIR overrides the source directory compiled in (tests run from another place).
std::string Lab::script() { return env_or("WGBPF_SOURCE_DIR", WGBPF_SOURCE_DIR) + "/scripts/lab.sh"; }

Lab::Lab(LabKind kind, const LabSpec& spec)
    : name_(spec.name.empty() ? env_or("WGBPF_LAB", "wgbpf") : spec.name),
      wg_(spec.wg.empty() ? env_or("WGBPF_LAB_WG", "wg0") : spec.wg),
      script_(spec.script.empty() ? script() : spec.script),
      env_(std::string(kind == LabKind::container ? "WGBPF_LAB_CONTAINER=1 " : "") +
           (spec.peers ? "WGBPF_LAB_PEERS=" + std::to_string(spec.peers) + " " : std::string()) +
           "WGBPF_LAB=" + sh_quote(name_) + " WGBPF_LAB_WG=" + sh_quote(wg_) + " ") {
    RunResult r = run_status(env_ + "bash " + sh_quote(script_) + " up 2>&1", std::chrono::seconds(120 + spec.peers));
    up_log_ = r.output;
    if (r.status != 0) {
        run_status(env_ + "bash " + sh_quote(script_) + " down 2>&1",
                   std::chrono::seconds(60)); // the script cleans up; be sure
        throw std::runtime_error("lab.sh up failed (" + status_text(r.status) + "):\n" + r.output);
    }
}

Lab::~Lab() {
    try {
        RunResult r = run_status(env_ + "bash " + sh_quote(script_) + " down 2>&1", std::chrono::seconds(60));
        if (r.status != 0) std::cerr << "lab.sh down failed (" << status_text(r.status) << "):\n" << r.output;
    } catch (const std::exception& e) {
        std::cerr << "lab.sh down: " << e.what() << "\n";
    }
}

RunResult Lab::exec(const std::string& role, const std::string& cmd, std::chrono::milliseconds timeout) const {
    std::string ns;
    if (role == "client") ns = client_ns();
    else if (role == "router") ns = router_ns();
    else if (role == "server") ns = server_ns();
    else if (role == "app") ns = app_ns();
    else if (role == "peers") ns = peers_ns();
    else throw std::invalid_argument("unknown lab role: " + role);
    return run_status("ip netns exec " + sh_quote(ns) + " sh -c " + sh_quote(cmd), timeout);
}

ScratchDir::ScratchDir(const std::string& prefix, bool keep) : keep_(keep) {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
    path_ = tmpl;
    ::chmod(path_.c_str(), 0711);
}

ScratchDir::~ScratchDir() {
    if (keep_) {
        std::cerr << "scratch files kept in " << path_ << "\n";
        return;
    }
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

bool Lab::kernel_wireguard(const std::string& role, const std::string& iface) const {
    return exec(role, "ip -d link show " + sh_quote(iface.empty() ? wg_ : iface) + " | grep -qw wireguard").status == 0;
}

std::string Lab::implementation() const {
    std::ifstream in("/run/wgbpf-lab/" + name_ + "/impl");
    std::string impl;
    std::getline(in, impl);
    impl = trimmed(impl);
    return impl.empty() ? "unknown" : impl;
}

std::string Lab::server_wg_iface() const {
    if (const char* s = std::getenv("WGBPF_LAB_WG_SERVER"); s && *s) return s;
    return wg_ == "wg0" ? "wgs0" : wg_ + "s";
}

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

} // namespace wgbpf::e2e
