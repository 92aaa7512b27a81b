// Recordings: the writer's frames read back; drop records never carry a kernel address; cut, flipped and
// foreign files are reported clearly (never a crash); replay feeds the pipeline what the recording said.
#include <catch2/catch_test_macros.hpp>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "netfilter_fixtures.hpp"
#include "route_fixtures.hpp"
#include "wgbpf/abi/events.h"
#include "record/recording_reader.hpp"
#include "record/recording_writer.hpp"
#include "record/replay_session.hpp"

using namespace wgbpf;
using namespace wgbpf::test;

namespace {

constexpr uint64_t kKernelAddress = 0xffffffffc0a1b2c3; // where a drop happened: must never reach the file
constexpr uint32_t kNetfilterDropReason = 6;
constexpr uint8_t kCtNew = 2;

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/wgbpf-recording-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::string file(const std::string& name) const { return path + "/" + name; }
};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

template <typename Raw>
std::span<const std::byte> bytes_of(const Raw& raw) {
    return std::as_bytes(std::span(&raw, 1));
}

wgbpf_event_header event_header(uint16_t type, uint32_t size, uint64_t t_ns) {
    wgbpf_event_header h{};
    h.type = type;
    h.version = 1;
    h.size = size;
    h.t_ns = t_ns;
    h.netns = kSeedNetns;
    return h;
}

// The seed's outer WireGuard packet, 192.168.178.48:51820 -> 203.0.113.123:51820.
wgbpf_packet outer_udp(uint64_t id) {
    wgbpf_packet p{};
    p.id = id;
    p.family = WGBPF_FAMILY_IPV4;
    p.proto = 17;
    p.len = 148;
    p.sport = 51820;
    p.dport = 51820;
    p.flags = WGBPF_PKT_F_L4;
    p.l3_len = 20;
    p.oif = 2;
    const uint8_t src[4] = {192, 168, 178, 48}, dst[4] = {203, 0, 113, 123};
    std::memcpy(p.src, src, 4);
    std::memcpy(p.dst, dst, 4);
    return p;
}

wgbpf_nf_bracket bracket(uint64_t id, uint32_t index, uint64_t t_ns, uint32_t mark, uint32_t ct_mark) {
    const BracketPlan plan = plan_brackets(seed_ruleset(), 1);
    wgbpf_nf_bracket b{};
    b.hdr = event_header(WGBPF_EV_NF_BRACKET, sizeof b, t_ns);
    b.pkt = outer_udp(id);
    b.bracket = index;
    b.hook = uint8_t(plan.brackets.at(index).hook);
    b.pf = plan.brackets.at(index).pf;
    b.ct_state = kCtNew;
    b.mark = mark;
    b.ct_mark = ct_mark;
    b.generation = plan.generation;
    return b;
}

wgbpf_drop drop(uint64_t id, uint64_t t_ns, uint64_t location = kKernelAddress,
                uint32_t reason = kNetfilterDropReason) {
    wgbpf_drop d{};
    d.hdr = event_header(WGBPF_EV_DROP, sizeof d, t_ns);
    d.pkt = outer_udp(id);
    d.location = location;
    d.reason = reason;
    return d;
}

RecordingNameSources kernel_names() {
    return {[](uint32_t reason) {
                return reason == kNetfilterDropReason ? std::string("NETFILTER_DROP")
                                                      : "reason " + std::to_string(reason);
            },
            [](uint64_t address) {
                return address == kKernelAddress ? std::string("nft_do_chain+0x3f2") : std::string("unknown");
            }};
}

RecordingHeader test_header() {
    RecordingHeader h;
    h.wgbpf_version = "0.1.0";
    h.created_unix_s = 1700000000;
    h.kernel_release = "6.1.0-test";
    h.command_line = {"wgbpf", "watch", "-w", "x.wgbpf"};
    h.realtime_offset_ns = 1'699'999'000'000'000'000;
    return h;
}

ConfigSnapshot seed_snapshot() {
    ConfigSnapshot c;
    c.netns = kSeedNetns;
    c.config = seed_config();
    c.config.netns_inode = kSeedNetns;
    c.config.nft = seed_ruleset();
    WgInterface wg;
    wg.name = "wg0";
    wg.implementation = WgImplementation::kernel;
    wg.fwmark = 0xca6c;
    c.wireguard = {wg};
    return c;
}

// The seed article's outer packet through postmangle, then one dropped in output: every frame kind.
void write_small_recording(const std::string& path, bool with_end = true) {
    auto w = RecordingWriter::open(path, test_header(), kernel_names());
    REQUIRE(w.ok());
    REQUIRE((*w)->write_config(seed_snapshot()));
    REQUIRE((*w)->write_plan(PlanSnapshot{kSeedNetns, plan_brackets(seed_ruleset(), 1)}));
    auto b1 = bracket(1, kPostBefore, 1'000'000, 0xca6c, 0);
    auto b2 = bracket(1, kPostAfter, 1'000'500, 0xca6c, 0xca6c);
    auto b3 = bracket(2, kOutBefore, 2'000'000, 0, 0);
    auto d = drop(2, 2'000'100);
    REQUIRE((*w)->write_event(bytes_of(b1)));
    REQUIRE((*w)->write_event(bytes_of(b2)));
    REQUIRE((*w)->write_event(bytes_of(b3)));
    REQUIRE((*w)->write_event(bytes_of(d)));
    REQUIRE((*w)->write_lost(LostEvents{ModuleId::route, 3, 1234}));
    if (with_end) {
        RecordingEnd end;
        end.seconds = 2.5;
        end.modules = {ModuleStatus{ModuleId::netfilter, true, "brackets", {}, 3, 0},
                       ModuleStatus{ModuleId::drop, true, "kfree_skb", {}, 1, 0}};
        REQUIRE((*w)->write_end(end));
    }
    REQUIRE((*w)->close());
}

struct ReadAll {
    std::vector<RecordingFrame> frames;
    std::string error; // "" when the file ended cleanly
};

ReadAll read_all(RecordingReader& reader) {
    ReadAll out;
    while (true) {
        auto f = reader.next();
        if (!f) {
            out.error = f.error();
            return out;
        }
        if (!*f) return out;
        out.frames.push_back(std::move(**f));
    }
}

std::vector<FrameKind> kinds(const std::vector<RecordingFrame>& frames) {
    std::vector<FrameKind> out;
    for (const RecordingFrame& f : frames) out.push_back(f.kind);
    return out;
}

std::string le32(uint32_t v) {
    std::string s(4, '\0');
    put_le32(reinterpret_cast<std::byte*>(s.data()), v);
    return s;
}

std::string frame_bytes(uint32_t kind, const std::string& payload) {
    auto p = std::as_bytes(std::span(payload.data(), payload.size()));
    return le32(kind) + le32(uint32_t(payload.size())) + le32(frame_checksum(kind, p)) + payload;
}

std::string preamble(uint32_t version = kRecordingFormatVersion) {
    return std::string(kRecordingMagic.data(), kRecordingMagic.size()) + le32(version);
}

const std::string kHeaderFrame = frame_bytes(uint32_t(FrameKind::header), encode_frame(test_header()));

} // namespace

TEST_CASE("a recording reads back frame by frame") {
    TempDir dir;
    write_small_recording(dir.file("small.wgbpf"));
    auto reader = RecordingReader::open(dir.file("small.wgbpf"));
    REQUIRE(reader.ok());
    CHECK(reader->format_version() == kRecordingFormatVersion);
    CHECK(reader->header().kernel_release == "6.1.0-test");
    CHECK(reader->header().command_line == test_header().command_line);
    CHECK(reader->header().realtime_offset_ns == test_header().realtime_offset_ns);

    ReadAll all = read_all(*reader);
    CHECK(all.error.empty());
    using K = FrameKind;
    CHECK(kinds(all.frames) ==
          std::vector<K>{K::config, K::plan, K::event, K::event, K::event, K::names, K::event, K::lost, K::end});
    CHECK(all.frames[0].offset == kRecordingPreambleSize + kHeaderFrame.size());

    auto config = decode_config_frame(all.frames[0].payload);
    REQUIRE(config.ok());
    CHECK(config->netns == kSeedNetns);
    CHECK(config->config.rules.size() == seed_config().rules.size());
    CHECK(config->config.nft.chains.size() == seed_ruleset().chains.size());
    CHECK(config->wireguard.at(0).fwmark == 0xca6c);
    auto plan = decode_plan_frame(all.frames[1].payload);
    REQUIRE(plan.ok());
    CHECK(plan->plan.brackets.size() == plan_brackets(seed_ruleset(), 1).brackets.size());

    auto b1 = bracket(1, kPostBefore, 1'000'000, 0xca6c, 0);
    CHECK(all.frames[2].payload.size() == sizeof b1);
    CHECK(std::memcmp(all.frames[2].payload.data(), &b1, sizeof b1) == 0); // events are the records as they were

    auto lost = decode_lost_frame(all.frames[7].payload);
    REQUIRE(lost.ok());
    CHECK(lost->module == ModuleId::route);
    CHECK(lost->count == 3);
    CHECK(lost->known_at_ns == 1234);
    auto end = decode_end_frame(all.frames[8].payload);
    REQUIRE(end.ok());
    CHECK(end->events == 4);
    CHECK(end->unrecordable == 0);
    CHECK(end->seconds == 2.5);
    REQUIRE(end->modules.size() == 2);
    CHECK(end->modules[0].flavour == "brackets");
    CHECK(end->modules[1].events == 1);
    CHECK(reader->skipped_unknown() == 0);
}

TEST_CASE("a drop record's kernel address never reaches the file") {
    TempDir dir;
    const std::string path = dir.file("drops.wgbpf");
    {
        auto w = RecordingWriter::open(path, test_header(), kernel_names());
        REQUIRE(w.ok());
        REQUIRE((*w)->write_event(bytes_of(drop(1, 100))));
        REQUIRE((*w)->write_event(bytes_of(drop(2, 200))));                           // same place: no new names
        REQUIRE((*w)->write_event(bytes_of(drop(3, 300, kKernelAddress + 0x40, 2)))); // elsewhere, unknown symbol
        REQUIRE((*w)->write_event(bytes_of(drop(4, 400, kKernelAddress + 0x80, 2)))); // "unknown" again: same index
        REQUIRE((*w)->close());
    }
    const std::string bytes = read_file(path);
    for (uint64_t address : {kKernelAddress, kKernelAddress + 0x40, kKernelAddress + 0x80}) {
        std::string needle(reinterpret_cast<const char*>(&address), sizeof address);
        CHECK(bytes.find(needle) == std::string::npos);
    }

    auto reader = RecordingReader::open(path);
    REQUIRE(reader.ok());
    ReadAll all = read_all(*reader);
    REQUIRE(all.error.empty());
    using K = FrameKind;
    REQUIRE(kinds(all.frames) == std::vector<K>{K::names, K::event, K::event, K::names, K::event, K::event});
    auto names = decode_names_frame(all.frames[0].payload);
    REQUIRE(names.ok());
    CHECK(names->symbols == std::map<uint32_t, std::string>{{0, "nft_do_chain+0x3f2"}});
    CHECK(names->drop_reasons == std::map<uint32_t, std::string>{{6, "NETFILTER_DROP"}});
    auto later = decode_names_frame(all.frames[3].payload);
    REQUIRE(later.ok());
    CHECK(later->symbols == std::map<uint32_t, std::string>{{1, "unknown"}});
    CHECK(later->drop_reasons == std::map<uint32_t, std::string>{{2, "reason 2"}});

    std::vector<uint64_t> locations;
    for (const RecordingFrame& f : all.frames) {
        if (f.kind != K::event) continue;
        wgbpf_drop d;
        REQUIRE(f.payload.size() == sizeof d);
        std::memcpy(&d, f.payload.data(), sizeof d);
        locations.push_back(d.location);
        CHECK(d.pkt.id != 0); // the rest of the record is untouched
    }
    CHECK(locations == std::vector<uint64_t>{0, 0, 1, 1});
}

TEST_CASE("without a symbol resolver every drop location is 'unknown'") {
    TempDir dir;
    const std::string path = dir.file("nosyms.wgbpf");
    auto w = RecordingWriter::open(path, test_header());
    REQUIRE(w.ok());
    REQUIRE((*w)->write_event(bytes_of(drop(1, 100))));
    REQUIRE((*w)->close());
    std::string needle(reinterpret_cast<const char*>(&kKernelAddress), sizeof kKernelAddress);
    CHECK(read_file(path).find(needle) == std::string::npos);
    auto reader = RecordingReader::open(path);
    REQUIRE(reader.ok());
    ReadAll all = read_all(*reader);
    REQUIRE(all.frames.size() == 2);
    auto names = decode_names_frame(all.frames[0].payload);
    REQUIRE(names.ok());
    CHECK(names->symbols == std::map<uint32_t, std::string>{{0, "unknown"}});
    CHECK(names->drop_reasons.empty());
}

TEST_CASE("records this build cannot decode are left out and counted") {
    TempDir dir;
    const std::string path = dir.file("odd.wgbpf");
    auto w = RecordingWriter::open(path, test_header(), kernel_names());
    REQUIRE(w.ok());
    wgbpf_drop newer = drop(1, 100);
    newer.hdr.version = 2; // a layout this build does not know: where would the address be?
    REQUIRE((*w)->write_event(bytes_of(newer)));
    wgbpf_drop unknown = drop(1, 100);
    unknown.hdr.type = 99;
    REQUIRE((*w)->write_event(bytes_of(unknown)));
    REQUIRE((*w)->write_event(bytes_of(drop(1, 100)).first(20))); // shorter than a header
    // A ring-buffer sample longer than its record: only the record is kept.
    std::vector<std::byte> padded(sizeof(wgbpf_nf_bracket) + 8, std::byte{0xee});
    auto b = bracket(1, kOutBefore, 100, 0, 0);
    std::memcpy(padded.data(), &b, sizeof b);
    REQUIRE((*w)->write_event(padded));
    CHECK((*w)->unrecordable() == 3);
    CHECK((*w)->events() == 1);
    REQUIRE((*w)->write_end(RecordingEnd{}));
    REQUIRE((*w)->close());

    std::string needle(reinterpret_cast<const char*>(&kKernelAddress), sizeof kKernelAddress);
    CHECK(read_file(path).find(needle) == std::string::npos);
    auto reader = RecordingReader::open(path);
    REQUIRE(reader.ok());
    ReadAll all = read_all(*reader);
    REQUIRE(kinds(all.frames) == std::vector<FrameKind>{FrameKind::event, FrameKind::end});
    CHECK(all.frames[0].payload.size() == sizeof(wgbpf_nf_bracket));
    auto end = decode_end_frame(all.frames[1].payload);
    REQUIRE(end.ok());
    CHECK(end->unrecordable == 3);
    CHECK(end->events == 1);
}

TEST_CASE("a recording cut anywhere reads up to its last complete frame, then says so") {
    TempDir dir;
    write_small_recording(dir.file("small.wgbpf"));
    const std::string whole = read_file(dir.file("small.wgbpf"));
    auto full_reader = RecordingReader::from_bytes(whole);
    REQUIRE(full_reader.ok());
    const ReadAll full = read_all(*full_reader);
    REQUIRE(full.error.empty());
    std::set<size_t> frame_ends;
    for (const RecordingFrame& f : full.frames) frame_ends.insert(f.offset + kFrameHeaderSize + f.payload.size());

    for (size_t n = 0; n < whole.size(); ++n) {
        INFO("cut at " << n << " of " << whole.size());
        auto reader = RecordingReader::from_bytes(whole.substr(0, n));
        if (!reader) {
            if (n == 0) CHECK(reader.error() == "empty file, not a wgbpf recording");
            else CHECK(reader.error().starts_with("truncated: "));
            CHECK(n < kRecordingPreambleSize + kHeaderFrame.size());
            continue;
        }
        ReadAll part = read_all(*reader);
        if (frame_ends.count(n) || n == kRecordingPreambleSize + kHeaderFrame.size()) {
            CHECK(part.error.empty()); // cut between frames: complete so far (replay reports the missing end)
        } else {
            CHECK(part.error.starts_with("truncated: frame at byte "));
        }
        REQUIRE(part.frames.size() <= full.frames.size());
        for (size_t i = 0; i < part.frames.size(); ++i) {
            CHECK(part.frames[i].offset == full.frames[i].offset);
            CHECK(part.frames[i].payload == full.frames[i].payload);
        }
        CHECK(reader->next().ok() == part.error.empty()); // an error stays
    }
}

TEST_CASE("truncation and corruption messages say where") {
    const std::string good = preamble() + kHeaderFrame;
    const size_t at = good.size();

    auto r = RecordingReader::from_bytes(good + le32(5) + le32(400) + le32(0) + std::string(12, 'x'));
    REQUIRE(r.ok());
    auto f = r->next();
    REQUIRE_FALSE(f.ok());
    CHECK(f.error() == "truncated: frame at byte " + std::to_string(at) + " says 400 bytes, 12 left");

    r = RecordingReader::from_bytes(good + le32(5) + le32(0xffffffff) + le32(0) + std::string(5, 'x'));
    REQUIRE(r.ok());
    f = r->next();
    REQUIRE_FALSE(f.ok());
    CHECK(f.error() == "truncated: frame at byte " + std::to_string(at) + " says 4294967295 bytes, 5 left");

    r = RecordingReader::from_bytes(good + le32(5).substr(0, 3));
    REQUIRE(r.ok());
    f = r->next();
    REQUIRE_FALSE(f.ok());
    CHECK(f.error() == "truncated: frame at byte " + std::to_string(at) + " has 3 of its 12 header bytes");

    std::string bad = good + frame_bytes(5, "0123456789abcdef0123456789abcdef");
    bad[bad.size() - 1] ^= 0x01;
    r = RecordingReader::from_bytes(bad);
    REQUIRE(r.ok());
    f = r->next();
    REQUIRE_FALSE(f.ok());
    CHECK(f.error() == "corrupted: frame at byte " + std::to_string(at) + " fails its checksum");

    auto first = RecordingReader::from_bytes(preamble() + frame_bytes(5, "x"));
    REQUIRE_FALSE(first.ok());
    CHECK(first.error() == "corrupted: frame at byte 12 should be the header, is event");

    auto no_header = RecordingReader::from_bytes(preamble());
    REQUIRE_FALSE(no_header.ok());
    CHECK(no_header.error() == "truncated: the file ends at byte 12, before its header frame");

    auto bad_header = RecordingReader::from_bytes(preamble() + frame_bytes(1, "{\"wgbpf_version\": 1}"));
    REQUIRE_FALSE(bad_header.ok());
    CHECK(bad_header.error() == "corrupted: frame at byte 12: header frame: wgbpf_version: expected a string");
}

TEST_CASE("a flipped bit anywhere is caught") {
    TempDir dir;
    write_small_recording(dir.file("small.wgbpf"));
    const std::string whole = read_file(dir.file("small.wgbpf"));
    for (size_t i = 0; i < whole.size(); ++i) {
        for (unsigned char flip : {0x01, 0x80}) {
            std::string bad = whole;
            bad[i] = char(bad[i] ^ flip);
            INFO("byte " << i << " ^ " << int(flip));
            auto reader = RecordingReader::from_bytes(bad);
            if (!reader) {
                CHECK(i < kRecordingPreambleSize + kHeaderFrame.size());
                continue;
            }
            ReadAll all = read_all(*reader);
            CHECK_FALSE(all.error.empty());
        }
    }
}

TEST_CASE("files that are not recordings are named as such") {
    TempDir dir;
    write_file(dir.file("notes.txt"), "these are not the packets you are looking for\n");
    write_file(dir.file("empty"), "");
    write_file(dir.file("short"), "WGBP");

    auto text = RecordingReader::open(dir.file("notes.txt"));
    REQUIRE_FALSE(text.ok());
    CHECK(text.error() == "not a wgbpf recording (bad magic)");

    auto elf = RecordingReader::open("/proc/self/exe");
    REQUIRE_FALSE(elf.ok());
    CHECK(elf.error() == "not a wgbpf recording (bad magic)");

    auto empty = RecordingReader::open(dir.file("empty"));
    REQUIRE_FALSE(empty.ok());
    CHECK(empty.error() == "empty file, not a wgbpf recording");

    auto short_file = RecordingReader::open(dir.file("short"));
    REQUIRE_FALSE(short_file.ok());
    CHECK(short_file.error() == "truncated: the file ends at byte 4, inside its 12-byte preamble");

    auto directory = RecordingReader::open(dir.path);
    REQUIRE_FALSE(directory.ok());
    CHECK(directory.error() == "is a directory, not a wgbpf recording");

    auto missing = RecordingReader::open(dir.file("missing.wgbpf"));
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error() == "cannot open: No such file or directory");

    if (geteuid() != 0) { // root reads files regardless of their mode
        write_small_recording(dir.file("secret.wgbpf"));
        chmod(dir.file("secret.wgbpf").c_str(), 0);
        auto secret = RecordingReader::open(dir.file("secret.wgbpf"));
        REQUIRE_FALSE(secret.ok());
        CHECK(secret.error() == "cannot open: Permission denied");
    }
}

TEST_CASE("a recording from a newer wgbpf says so") {
    auto newer = RecordingReader::from_bytes(preamble(7) + kHeaderFrame);
    REQUIRE_FALSE(newer.ok());
    CHECK(newer.error() == "recording format version 7 is newer than this wgbpf (2)");
    auto zero = RecordingReader::from_bytes(preamble(0) + kHeaderFrame);
    REQUIRE_FALSE(zero.ok());
    CHECK(zero.error() == "corrupted: recording format version 0 does not exist");
}

TEST_CASE("frames of kinds this wgbpf does not know are skipped and counted") {
    auto b = bracket(1, kOutBefore, 100, 0, 0);
    std::string event(reinterpret_cast<const char*>(&b), sizeof b);
    auto reader = RecordingReader::from_bytes(preamble() + kHeaderFrame + frame_bytes(42, "{\"future\": true}") +
                                              frame_bytes(5, event) + frame_bytes(43, ""));
    REQUIRE(reader.ok());
    ReadAll all = read_all(*reader);
    CHECK(all.error.empty());
    CHECK(kinds(all.frames) == std::vector<FrameKind>{FrameKind::event});
    CHECK(reader->skipped_unknown() == 2);
}

TEST_CASE("the writer says why it cannot record") {
    TempDir dir;
    auto missing_dir = RecordingWriter::open(dir.file("no/such/dir.wgbpf"), test_header());
    REQUIRE_FALSE(missing_dir.ok());
    CHECK(missing_dir.error() ==
          "cannot create recording " + dir.file("no/such/dir.wgbpf") + ": No such file or directory");

    auto directory = RecordingWriter::open(dir.path, test_header());
    REQUIRE_FALSE(directory.ok());
    CHECK(directory.error() == "cannot create recording " + dir.path + ": Is a directory");

    if (access("/dev/full", W_OK) == 0) {
        auto full = RecordingWriter::open("/dev/full", test_header());
        REQUIRE_FALSE(full.ok());
        CHECK(full.error() == "cannot write recording /dev/full: No space left on device");
    }

    write_file(dir.file("notes.txt"), "keep me\n");
    auto other = RecordingWriter::open(dir.file("notes.txt"), test_header());
    REQUIRE_FALSE(other.ok());
    CHECK(other.error() == "refusing to overwrite " + dir.file("notes.txt") + ": it is not a wgbpf recording");
    CHECK(read_file(dir.file("notes.txt")) == "keep me\n");
    write_small_recording(dir.file("again.wgbpf"));
    write_small_recording(dir.file("again.wgbpf")); // an earlier recording is replaced
    CHECK(RecordingReader::open(dir.file("again.wgbpf")).ok());

    // Recordings are private (packet bytes, rulesets, keys), also one replacing a readable earlier recording.
    struct stat st {};
    REQUIRE(stat(dir.file("again.wgbpf").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(chmod(dir.file("again.wgbpf").c_str(), 0644) == 0);
    write_small_recording(dir.file("again.wgbpf"));
    REQUIRE(stat(dir.file("again.wgbpf").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    // A symbolic link is not followed (root's -w must not be steered elsewhere), and the target is untouched.
    REQUIRE(symlink(dir.file("notes.txt").c_str(), dir.file("link.wgbpf").c_str()) == 0);
    auto link = RecordingWriter::open(dir.file("link.wgbpf"), test_header());
    REQUIRE_FALSE(link.ok());
    CHECK(link.error() == "cannot record to " + dir.file("link.wgbpf") +
                              ": it is a symbolic link (not followed; name the file itself)");
    CHECK(read_file(dir.file("notes.txt")) == "keep me\n");

    auto symbols = RecordingWriter::open(dir.file("symbols.wgbpf"), test_header());
    REQUIRE(symbols.ok());
    CHECK_FALSE((*symbols)->write_names(RecordingNames{{}, {{0, "mine"}}}).ok());
    CHECK((*symbols)->write_names(RecordingNames{{{6, "NETFILTER_DROP"}}, {}}).ok());

    auto w = RecordingWriter::open(dir.file("closed.wgbpf"), test_header());
    REQUIRE(w.ok());
    REQUIRE((*w)->close());
    auto late = (*w)->write_event(bytes_of(drop(1, 1)));
    REQUIRE_FALSE(late.ok());
    CHECK(late.error() == "recording " + dir.file("closed.wgbpf") + " is closed");
}

TEST_CASE("the header describes this process on this host") {
    RecordingHeader h = RecordingHeader::for_this_process({"wgbpf", "watch", "-w", "x"});
    CHECK_FALSE(h.wgbpf_version.empty());
    CHECK_FALSE(h.kernel_release.empty());
    CHECK(h.created_unix_s > 1'600'000'000);
    CHECK(h.realtime_offset_ns > 0);
    auto text = encode_frame(h);
    auto back = decode_header_frame(std::as_bytes(std::span(text.data(), text.size())));
    REQUIRE(back.ok());
    CHECK(back->command_line == h.command_line);
    CHECK(back->realtime_offset_ns == h.realtime_offset_ns);
}

TEST_CASE("replay feeds the pipeline what the recording said") {
    TempDir dir;
    write_small_recording(dir.file("small.wgbpf"));
    auto reader = RecordingReader::open(dir.file("small.wgbpf"));
    REQUIRE(reader.ok());
    std::vector<NetfilterStep> steps;
    std::vector<DropStep> drops;
    PipelineSinks sinks;
    sinks.netfilter = [&](const NetfilterStep& s) { steps.push_back(s); };
    sinks.drop = [&](const DropStep& d) { drops.push_back(d); };
    sinks.route = [](const RouteDecision&) {};
    ReplaySession session(sinks);
    ReplayOutcome out = session.run(*reader);
    CHECK(out.problem.empty());
    CHECK(out.events == 4);
    CHECK(out.frames == 10);
    REQUIRE(out.end.has_value());
    CHECK(out.lost[ModuleId::route] == 3);
    CHECK(out.lost[ModuleId::netfilter] == 0);

    REQUIRE(steps.size() == 2);
    CHECK(steps[0].chain == "postmangle"); // named from the recorded plan and ruleset
    CHECK(steps[0].ct_mark_after == 0xca6c);
    CHECK(steps[0].rules_that_set ==
          std::vector<std::string>{"meta l4proto udp meta mark 0x0000ca6c ct mark set meta mark"});
    CHECK(steps[1].chain == "output");
    CHECK(steps[1].verdict == NfVerdict::drop);
    REQUIRE(drops.size() == 1);
    CHECK(drops[0].reason == "NETFILTER_DROP");       // the recording kernel's name for reason 6
    CHECK(drops[0].location == "nft_do_chain+0x3f2"); // from the symbol table, not an address
    CHECK(drops[0].chain == "inet filter output");
    CHECK(session.link_name(kWg0) == "wg0");
    CHECK(session.pipeline().events_per_module()[ModuleId::netfilter] == 3);
}

TEST_CASE("replay renders what came before a cut and reports the cut") {
    TempDir dir;
    write_small_recording(dir.file("small.wgbpf"));
    const std::string whole = read_file(dir.file("small.wgbpf"));
    // Up to the middle of the drop record: the brackets are there, the drop is not.
    auto full_reader = RecordingReader::from_bytes(whole);
    REQUIRE(full_reader.ok());
    ReadAll full = read_all(*full_reader);
    const RecordingFrame& drop_frame = full.frames.at(6);
    REQUIRE(drop_frame.kind == FrameKind::event);
    auto reader = RecordingReader::from_bytes(whole.substr(0, drop_frame.offset + 40));

    REQUIRE(reader.ok());
    std::vector<NetfilterStep> steps;
    std::vector<DropStep> drops;
    PipelineSinks sinks;
    sinks.netfilter = [&](const NetfilterStep& s) { steps.push_back(s); };
    sinks.drop = [&](const DropStep& d) { drops.push_back(d); };
    sinks.route = [](const RouteDecision&) {};
    ReplaySession session(sinks);
    ReplayOutcome out = session.run(*reader);
    CHECK(out.problem == "truncated: frame at byte " + std::to_string(drop_frame.offset) + " says 128 bytes, 28 left");
    CHECK(out.events == 3);
    CHECK_FALSE(out.end.has_value());
    CHECK(drops.empty());
    REQUIRE(steps.size() == 2); // finished at the end of what there was
    CHECK(steps[0].chain == "postmangle");
    CHECK(steps[1].verdict == NfVerdict::unknown);

    // Cut between frames (the process died between two writes): everything there, the end missing.
    auto no_end = RecordingReader::from_bytes(whole.substr(0, full.frames.back().offset));
    REQUIRE(no_end.ok());
    ReplaySession again(sinks);
    ReplayOutcome cut = again.run(*no_end);
    CHECK(cut.problem.starts_with("incomplete: the recording ends at byte " +
                                  std::to_string(full.frames.back().offset) + " without its end frame"));
    CHECK(cut.events == 4);
}

TEST_CASE("a frame that checks out but says nonsense stops replay with its reason") {
    auto reader = RecordingReader::from_bytes(preamble() + kHeaderFrame + frame_bytes(2, "{\"netns\": \"x\"}"));
    REQUIRE(reader.ok());
    ReplaySession session(
        PipelineSinks{[](const RouteDecision&) {}, [](const NetfilterStep&) {}, [](const DropStep&) {}, {}});
    ReplayOutcome out = session.run(*reader);
    CHECK(out.problem == "corrupted: frame at byte " + std::to_string(kRecordingPreambleSize + kHeaderFrame.size()) +
                             ": config frame: netns: expected an unsigned integer up to 4294967295");
}

// Recordings made by each format version, checked in: later wgbpf versions must still read them. Their event
// records are ABI version 1: when a layout changes (and its version is bumped), old recordings' records of
// that type are rejected by the decoder, and this test says so. WGBPF_UPDATE_RECORDINGS=1 rewrites the current
// version's file (version 1's, routes as objects, stays as it was).
TEST_CASE("the checked-in recordings of every format version still read") {
    for (uint32_t version = 1; version <= kRecordingFormatVersion; ++version) {
        const std::string path =
            std::string(WGBPF_TEST_DATA) + "/recordings/seed_v" + std::to_string(version) + ".wgbpf";
        if (const char* update = getenv("WGBPF_UPDATE_RECORDINGS");
            update && std::string(update) == "1" && version == kRecordingFormatVersion)
            write_small_recording(path);
        INFO(path);
        auto reader = RecordingReader::open(path);
        REQUIRE(reader.ok());
        CHECK(reader->format_version() == version);
        std::vector<DropStep> drops;
        ReplaySession session(PipelineSinks{[](const RouteDecision&) {},
                                            [](const NetfilterStep&) {},
                                            [&](const DropStep& d) { drops.push_back(d); },
                                            {}});
        ReplayOutcome out = session.run(*reader);
        CHECK(out.problem.empty());
        CHECK(out.events == 4);
        REQUIRE(drops.size() == 1);
        CHECK(drops[0].location == "nft_do_chain+0x3f2");
        std::string needle(reinterpret_cast<const char*>(&kKernelAddress), sizeof kKernelAddress);
        CHECK(read_file(path).find(needle) == std::string::npos);
    }
}

namespace {

Route v4_route(const char* prefix, uint32_t table, uint32_t metric = 0) {
    Route r;
    r.dst = *IpPrefix::parse(prefix);
    r.table = table;
    r.metric = metric;
    return r;
}

} // namespace

TEST_CASE("route changes: removed exactly, replaced by key, added; a removal of a missing route says drift") {
    NetnsConfig cfg;
    cfg.routes = {v4_route("10.0.0.0/8", 254), v4_route("10.1.0.0/16", 254, 5), v4_route("0.0.0.0/0", 254)};
    cfg.sort_routes();
    RouteChanges c;
    c.removed = {v4_route("10.0.0.0/8", 254)};
    Route replacement = v4_route("10.1.0.0/16", 254, 5);
    replacement.oif = 7;
    c.replaced = {replacement};
    c.added = {v4_route("192.0.2.0/24", 100)};
    REQUIRE(cfg.apply(c));
    REQUIRE(cfg.routes.size() == 3);
    CHECK(std::is_sorted(cfg.routes.begin(), cfg.routes.end()));
    CHECK(std::count(cfg.routes.begin(), cfg.routes.end(), replacement) == 1);
    CHECK(cfg.has_table(Family::ipv4, 100));
    RouteChanges again;
    again.removed = {v4_route("10.0.0.0/8", 254)};
    CHECK_FALSE(cfg.apply(again));
}

TEST_CASE("a recording writes later configurations' routes as changes, and replay rebuilds them exactly") {
    TempDir dir;
    const std::string path = dir.file("routes.wgbpf");
    ConfigSnapshot big = seed_snapshot();
    for (uint32_t i = 0; i < 20000; ++i)
        big.config.routes.push_back(
            v4_route(fmt::format("172.{}.{}.0/24", 16 + i / 256, i % 256).c_str(), 100 + i % 4));
    big.config.sort_routes();
    ConfigSnapshot changed = big;
    changed.config.routes.erase(changed.config.routes.begin() + 100);
    changed.config.routes.push_back(v4_route("198.18.0.0/15", 7));
    changed.config.sort_routes();
    {
        auto w = RecordingWriter::open(path, test_header(), {});
        REQUIRE(w.ok());
        REQUIRE((*w)->write_config(big));
        REQUIRE((*w)->write_config(changed));
        REQUIRE((*w)->close());
    }
    auto reader = RecordingReader::open(path);
    REQUIRE(reader.ok());
    ReadAll all = read_all(*reader);
    REQUIRE(all.error.empty());
    REQUIRE(kinds(all.frames) == std::vector<FrameKind>{FrameKind::config, FrameKind::config});
    CHECK(all.frames[1].payload.size() * 20 < all.frames[0].payload.size()); // the change, not the table again
    auto second = decode_config_frame(all.frames[1].payload);
    REQUIRE(second.ok());
    REQUIRE(second->route_changes);
    CHECK(second->route_changes->removed.size() == 1);
    CHECK(second->route_changes->added.size() == 1);

    auto again = RecordingReader::open(path);
    REQUIRE(again.ok());
    ReplaySession session(
        PipelineSinks{[](const RouteDecision&) {}, [](const NetfilterStep&) {}, [](const DropStep&) {}, {}});
    session.run(*again);
    const NetnsConfig* replayed = session.config(kSeedNetns);
    REQUIRE(replayed);
    CHECK(replayed->routes == changed.config.routes);
    CHECK(replayed->links.size() == changed.config.links.size());
}

TEST_CASE("route changes before any configuration of their namespace are a corrupted recording") {
    ConfigSnapshot orphan = seed_snapshot();
    orphan.route_changes = RouteChanges{{}, {}, {v4_route("10.0.0.0/8", 254)}};
    auto reader = RecordingReader::from_bytes(preamble() + kHeaderFrame + frame_bytes(2, encode_frame(orphan)));
    REQUIRE(reader.ok());
    ReplaySession session(
        PipelineSinks{[](const RouteDecision&) {}, [](const NetfilterStep&) {}, [](const DropStep&) {}, {}});
    ReplayOutcome out = session.run(*reader);
    CHECK(out.problem.find("route changes for namespace " + std::to_string(kSeedNetns) + " before any configuration") !=
          std::string::npos);
}

TEST_CASE("route changes that remove a route the namespace does not have: corrupted, the last good routes stay") {
    ConfigSnapshot first = seed_snapshot();
    ConfigSnapshot bad = seed_snapshot();
    bad.route_changes = RouteChanges{{v4_route("203.0.113.0/24", 9)}, {}, {}};
    auto reader = RecordingReader::from_bytes(preamble() + kHeaderFrame + frame_bytes(2, encode_frame(first)) +
                                              frame_bytes(2, encode_frame(bad)));
    REQUIRE(reader.ok());
    ReplaySession session(
        PipelineSinks{[](const RouteDecision&) {}, [](const NetfilterStep&) {}, [](const DropStep&) {}, {}});
    ReplayOutcome out = session.run(*reader);
    CHECK(out.problem.find("a removed route of namespace") != std::string::npos);
    const NetnsConfig* kept = session.config(kSeedNetns);
    REQUIRE(kept);
    std::vector<Route> expected = first.config.routes;
    std::sort(expected.begin(), expected.end());
    CHECK(kept->routes == expected);
}

TEST_CASE("a config frame of a watch of several namespaces keeps the namespace's name and where each WireGuard "
          "interface and its socket are; a frame without them reads as before") {
    ConfigSnapshot c = seed_snapshot();
    c.name = "wgbpf-client";
    c.wireguard[0].netns = 4026532369u; // the interface lives in the container
    c.wireguard[0].socket_netns = kSeedNetns;
    const std::string text = encode_frame(c);
    auto back = decode_config_frame(std::as_bytes(std::span(text.data(), text.size())));
    REQUIRE(back.ok());
    CHECK(back->name == "wgbpf-client");
    REQUIRE(back->wireguard.size() == 1);
    CHECK(back->wireguard[0].netns == 4026532369u);
    CHECK(back->wireguard[0].socket_netns == kSeedNetns);

    const std::string plain = encode_frame(seed_snapshot());
    CHECK(plain.find("\"name\":\"wgbpf") == std::string::npos);
    CHECK(plain.find("socket_netns") == std::string::npos); // one namespace: the frame is as it always was
    auto old = decode_config_frame(std::as_bytes(std::span(plain.data(), plain.size())));
    REQUIRE(old.ok());
    CHECK(old->name.empty());
    CHECK(old->wireguard[0].netns == 0);
    CHECK(old->wireguard[0].socket_netns == 0);
}
