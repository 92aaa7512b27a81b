#pragma once
// Text for a terminal. Interface names, rule text, chain names and recording fields come from the kernel or
// a file, and whoever controls them (CAP_NET_ADMIN in a watched container, the author of a recording) must
// not reach the reader's terminal with control sequences (OSC 52 writes the clipboard, others retitle or
// move the cursor). Every control character becomes visible as \xNN (C1 controls as \u00NN), except new
// lines, tabs and the colour sequences (SGR: ESC [ digits ; ... m) that wgbpf's own renderers emit.
#include <string>
#include <string_view>

namespace wgbpf {

std::string terminal_safe(std::string_view text);

// The same for one field inside a line wgbpf lays out itself (a table row): new lines, tabs and escape
// sequences too become visible, so a name cannot start a row of its own or recolour (or conceal) the rest.
std::string terminal_field(std::string_view text);

} // namespace wgbpf
