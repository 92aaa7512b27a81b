// Packet ids: SipHash-2-4 of the skb's offset, the function the BPF programs run (include/wgbpf/abi/siphash.h).
#include <catch2/catch_test_macros.hpp>

#include <cstdint>
#include <cstring>

#include "wgbpf/abi/siphash.h"

TEST_CASE("packet ids: SipHash-2-4 gives the reference implementation's output") {
    // The reference test vector for 8 bytes 00..07 under the key 00..0f (Aumasson & Bernstein, vectors.h).
    uint8_t key[16], message[8];
    for (int i = 0; i < 16; ++i) key[i] = uint8_t(i);
    for (int i = 0; i < 8; ++i) message[i] = uint8_t(i);
    uint64_t k0, k1, m;
    std::memcpy(&k0, key, 8); // little-endian, as on every machine wgbpf runs on
    std::memcpy(&k1, key + 8, 8);
    std::memcpy(&m, message, 8);
    CHECK(wgbpf_siphash_u64(m, k0, k1) == 0x93f5f5799a932462ULL); // also lib/siphash_kunit.c test_vectors[8]
}

TEST_CASE("packet ids: the key changes every id, and ids of neighbouring addresses share no pattern") {
    const uint64_t a = wgbpf_siphash_u64(0x1000, 1, 2), b = wgbpf_siphash_u64(0x1100, 1, 2);
    CHECK(a != wgbpf_siphash_u64(0x1000, 1, 3));
    CHECK((a ^ b) != (wgbpf_siphash_u64(0x2000, 1, 2) ^ wgbpf_siphash_u64(0x2100, 1, 2)));
}
