#pragma once
// JSON lines written straight into RapidJSON's writer, with no document built first (issue #7: building
// nlohmann::json objects cost more than everything else in user space), byte for byte as nlohmann's dump()
// printed them: keys in std::map order (byte-wise ascending), strings escaped as nlohmann escapes them.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wgbpf {

// RapidJSON's writer, plus text that needs no escaping (keys, most values) copied in one go: RapidJSON looks
// up every byte of every key and string in its escape table.
class JsonWriter : public rapidjson::Writer<rapidjson::StringBuffer> {
public:
    using Writer::Writer;

    // A key or string value of printable ASCII other than '"' and '\\' only.
    void Unescaped(std::string_view text) {
        Prefix(rapidjson::kStringType);
        char* p = os_->Push(text.size() + 2);
        p[0] = '"';
        std::memcpy(p + 1, text.data(), text.size());
        p[text.size() + 1] = '"';
        EndValue(true);
    }
};

// A string value as nlohmann's dump() writes it: control characters as \u00xx. Text that is not UTF-8
// (interface names and rule comments can be any bytes) gets U+FFFD in place of each bad sequence, as
// `compare` and recordings write it, rather than ending the run.
void write_json_string(JsonWriter& w, std::string_view s);

// A field whose value is known before its object is written: merged into it in key order (a packet's
// fields inside a netfilter step's object).
struct JsonScalar {
    enum class Type { null, uint, string };
    std::string_view key;
    Type type = Type::null;
    uint64_t number = 0;
    std::string_view text;
};

// One object, field by field. Keys must come in byte order, as nlohmann's std::map printed them: a key out
// of order throws std::logic_error, so a field added in the wrong place fails every test that renders it.
// Keys are string literals of letters and underscores (views are kept; they are written unescaped).
class JsonObject {
public:
    explicit JsonObject(JsonWriter& w) : w_(w) { w_.StartObject(); }
    JsonObject(const JsonObject&) = delete;
    JsonObject& operator=(const JsonObject&) = delete;

    // Sorted fields written between the caller's where their keys fall; they must outlive end().
    void merge(std::span<const JsonScalar> fields) { merged_ = fields; }

    // Then exactly one value into the writer returned. Inline: called for every field of every line.
    JsonWriter& key(std::string_view k) {
        if (!merged_.empty()) write_merged_before(k);
        check_order(k);
        w_.Unescaped(k);
        return w_;
    }
    void null(std::string_view k) { key(k).Null(); }
    void uint(std::string_view k, uint64_t v) { key(k).Uint64(v); }
    void sint(std::string_view k, int64_t v) { key(k).Int64(v); }
    void boolean(std::string_view k, bool v) { key(k).Bool(v); }
    void str(std::string_view k, std::string_view v) { write_json_string(key(k), v); }
    void name(std::string_view k, std::string_view v); // null when empty (an unknown name)
    void opt(std::string_view k, const std::optional<uint64_t>& v);
    void strings(std::string_view k, const std::vector<std::string>& v);
    void end();

private:
    void write_merged(const JsonScalar& f);
    void write_merged_before(std::string_view k);
    void check_order(std::string_view k) {
        // Most neighbours differ in their first byte: decided without a call to memcmp.
        auto first = static_cast<unsigned char>(k[0]);
        auto last_first = last_.empty() ? 0 : static_cast<unsigned char>(last_[0]);
        if (first < last_first || (first == last_first && k <= last_)) out_of_order(k);
        last_ = k;
    }
    [[noreturn]] void out_of_order(std::string_view k) const;

    JsonWriter& w_;
    std::string_view last_;
    std::span<const JsonScalar> merged_;
};

// The text that `write(JsonWriter&)` writes: for tests, the benchmark and one-off lines.
template <typename F>
std::string json_text(F&& write) {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    write(w);
    return std::string(buffer.GetString(), buffer.GetSize());
}

} // namespace wgbpf
