#pragma once
// What wgbpf tells people on stderr besides its log messages (the ready line, the exit summary): plain text,
// or with `--log-format json` one log object per line like every other message, so that journald or Vector
// ingest stderr whole.
#include <string_view>

namespace wgbpf {

void set_stderr_as_log(bool on);
void write_stderr_text(std::string_view text); // lines; ends with a newline

} // namespace wgbpf
