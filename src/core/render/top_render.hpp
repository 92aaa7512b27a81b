#pragma once
// `wgbpf top`: a snapshot of the path counts as a table for people (highest rate first; drops and
// rp_filter failures in red) or as one JSON line (docs/json-schema.md, "top").
#include <cstddef>
#include <string>

#include "render/json_object.hpp"
#include "render/route_render.hpp"
#include "top/path_table.hpp"

namespace wgbpf {

// "output rule 32765 table 51820 > wg0 | output inet filter out: accept | wg0 encrypt peer Ab3dEf12.. | sent"
std::string path_text(const PathSignature& p);

struct TopTextOptions {
    size_t rows = 0;       // at most this many paths (0: all)
    bool examples = false; // each path's first packet under it
    double elapsed_s = 0;  // since the watch started
    uint64_t lost_events = 0;
    std::string expression;     // what picked the packets counted ("": every packet of the places watched)
    uint16_t sample_every = 1;  // --sample N
};
// Ends with a newline. Names from the kernel are made terminal-safe here.
std::string render_top_text(const TopSnapshot& s, const TopTextOptions& o, const TextStyle& style);

// One line's object (without the newline): every path, or the first `rows`.
void write_top_json(JsonWriter& w, const TopSnapshot& s, const TopTextOptions& o);

} // namespace wgbpf
