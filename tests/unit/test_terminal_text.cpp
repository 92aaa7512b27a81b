#include <catch2/catch_test_macros.hpp>

#include "render/paint.hpp"
#include "render/terminal_text.hpp"

using namespace wgbpf;

TEST_CASE("text for a terminal: control characters from names and files are shown, never sent") {
    // An interface named with an OSC 52 sequence (writes the reader's clipboard) and a bell.
    CHECK(terminal_safe("dev \x1b]52;c;ZXZpbA==\x07 egress") == "dev \\x1b]52;c;ZXZpbA==\\x07 egress");
    CHECK(terminal_safe("a\rb\x7f") == "a\\x0db\\x7f");
    CHECK(terminal_safe("csi \xc2\x9b"
                        "2J") == "csi \\u009b2J"); // C1 CSI in UTF-8
    // Lines, tabs, UTF-8 text and wgbpf's own colours pass.
    CHECK(terminal_safe("line\n\tnext") == "line\n\tnext");
    CHECK(terminal_safe("peer é") == "peer é");
    paint::Paint p{true};
    std::string coloured = p(paint::red, "drop") + " " + p(paint::bold, "#1");
    CHECK(terminal_safe(coloured) == coloured);
    // An ESC that does not start a colour sequence is shown.
    CHECK(terminal_safe("\x1b[2J") == "\\x1b[2J");
}
