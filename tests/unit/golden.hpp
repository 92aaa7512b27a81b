#pragma once
// Golden files: compare rendered output with tests/data/golden/NAME; WGBPF_UPDATE_GOLDEN=1 rewrites them.
#include <catch2/catch_test_macros.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

inline void check_golden(const std::string& name, const std::string& actual) {
    std::string path = std::string(WGBPF_TEST_DATA) + "/golden/" + name;
    if (std::getenv("WGBPF_UPDATE_GOLDEN")) {
        std::ofstream(path) << actual;
        return;
    }
    std::ifstream in(path);
    INFO("golden file " << path << " (regenerate with WGBPF_UPDATE_GOLDEN=1)");
    REQUIRE(in.good());
    std::stringstream expected;
    expected << in.rdbuf();
    CHECK(actual == expected.str());
}
