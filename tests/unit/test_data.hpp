#pragma once
// Files under tests/data, whole, and the edits tests make to nftrace samples.
#include <catch2/catch_test_macros.hpp>

#include <fstream>
#include <sstream>
#include <string>

namespace wgbpf::test {

inline std::string read_test_data(const std::string& path) { // relative to tests/data
    std::ifstream in(std::string(WGBPF_TEST_DATA) + "/" + path);
    INFO("tests/data/" << path);
    REQUIRE(in.good());
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// `text` with the first `from` replaced by `to` (which must be there).
inline std::string replaced(std::string text, const std::string& from, const std::string& to) {
    size_t at = text.find(from);
    INFO(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
}

// nftrace text without one trace id's lines (wrapped continuations included).
inline std::string without_trace(const std::string& text, const std::string& id) {
    std::istringstream in(text);
    std::string out;
    bool skipping = false;
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with("trace id ")) skipping = line.starts_with("trace id " + id);
        if (!skipping) out += line + "\n";
    }
    return out;
}

} // namespace wgbpf::test
