#include <catch2/catch_test_macros.hpp>

#include <sstream>

#include "timeline_fixtures.hpp"
#include "render/output_writer.hpp"

using namespace wgbpf;
using namespace wgbpf::test;

TEST_CASE("a record limit (--count N): the writer writes at most N records, also those completed on the way out") {
    for (bool json : {false, true}) {
        std::ostringstream out;
        OutputWriter w(out, json, TextStyle{}, {});
        w.limit(2);
        for (int i = 0; i < 3; ++i) w.route(inner_request_route(1'000 + i));
        w.netfilter(filter_output(icmp_packet(1, "10.0.0.1", "198.51.100.9", 8), 2'000));
        CHECK(w.flush().state == WriteState::ok);
        CHECK(w.records() == 2);
        CHECK(w.full());
        std::string text = out.str();
        if (json) CHECK(std::count(text.begin(), text.end(), '\n') == 2);
        else CHECK(text.find("route output") != std::string::npos);
        CHECK(text.find("nf ") == std::string::npos);
    }
}
