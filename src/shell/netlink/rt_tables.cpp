#include "netlink/rt_tables.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

namespace wgbpf {
namespace {

std::optional<uint32_t> parse_number(std::string_view s) {
    int base = 10;
    if (s.starts_with("0x") || s.starts_with("0X")) {
        s.remove_prefix(2);
        base = 16;
    }
    uint32_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

void read_file(const std::filesystem::path& path, std::map<uint32_t, std::string>& out) {
    std::ifstream in(path);
    if (!in) return;
    std::stringstream ss;
    ss << in.rdbuf();
    parse_rt_tables(ss.str(), out);
}

void read_dir(const std::filesystem::path& dir, std::map<uint32_t, std::string>& out) {
    std::error_code ec;
    std::vector<std::filesystem::path> confs;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
        if (entry.path().extension() == ".conf") confs.push_back(entry.path());
    std::sort(confs.begin(), confs.end()); // deterministic when two files name the same number
    for (const auto& p : confs) read_file(p, out);
}

} // namespace

void parse_rt_tables(std::string_view text, std::map<uint32_t, std::string>& out) {
    std::istringstream lines{std::string(text)};
    std::string line;
    while (std::getline(lines, line)) {
        if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
        std::istringstream words(line);
        std::string number, name;
        if (!(words >> number >> name)) continue;
        if (auto id = parse_number(number)) out[*id] = name;
    }
}

std::map<uint32_t, std::string> read_rt_tables() {
    std::map<uint32_t, std::string> out{{253, "default"}, {254, "main"}, {255, "local"}};
    for (const char* base : {"/usr/share/iproute2", "/etc/iproute2"}) {
        read_file(std::filesystem::path(base) / "rt_tables", out);
        read_dir(std::filesystem::path(base) / "rt_tables.d", out);
    }
    return out;
}

} // namespace wgbpf
