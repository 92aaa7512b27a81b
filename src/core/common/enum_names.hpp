#pragma once
// Words for the model's enums live in one place per enum: its `name_of` overload, a switch without a
// default, so that a new enumerator is a compile error (-Werror=switch) where it has no word yet. Parsing
// asks that same function, so there is no second table to drift from it.
#include <optional>
#include <string_view>

namespace wgbpf {

// The enumerator whose name_of is `word`; nothing when no enumerator has that word. Enums using this
// have contiguous values from 0 (under 256) and a name_of that returns "" for a value it does not know.
template <typename E>
std::optional<E> parse_enum(std::string_view word) {
    if (word.empty()) return std::nullopt;
    for (unsigned i = 0; i < 256; ++i)
        if (name_of(static_cast<E>(i)) == word) return static_cast<E>(i);
    return std::nullopt;
}

} // namespace wgbpf
