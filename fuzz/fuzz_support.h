// Shared by the harnesses and fuzz_make_corpus.
//  - Fixed test keys and identities: the seeds the generator seals open in the harnesses, so
//    the fuzzer starts past the MAC and the signatures instead of only ever hitting them.
//  - A deterministic libsodium random source: nonces and ephemeral keys are the same on
//    every run, so a crash reproduces from its input file alone, and a server reply the
//    generator signed for the client's ephemeral key still verifies in the harness.
// Never linked into qmesh itself: a fixed random source there would be a catastrophe.
#pragma once

#include <sodium.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "router/dataplane/framer.h"
#include "router/membership/identity.h"
#include "router/membership/keyring.h"

namespace qmesh::fuzz {

namespace detail {
inline uint64_t& randomCounter() {
  static uint64_t counter = 0;
  return counter;
}
inline void deterministicBuf(void* const buf, const size_t size) {
  std::array<uint8_t, randombytes_SEEDBYTES> seed{};
  const uint64_t c = randomCounter()++;
  std::memcpy(seed.data(), &c, sizeof c);
  randombytes_buf_deterministic(buf, size, seed.data());
}
inline uint32_t deterministicRandom() {
  uint32_t v = 0;
  deterministicBuf(&v, sizeof v);
  return v;
}
inline const char* deterministicName() { return "qmesh-fuzz-deterministic"; }
inline void noStir() {}
inline int noClose() { return 0; }
}  // namespace detail

// First thing in LLVMFuzzerInitialize / main: libsodium takes a random source only before
// sodium_init().
inline void useDeterministicRandom() {
  static randombytes_implementation impl = {detail::deterministicName, detail::deterministicRandom,
                                            detail::noStir, nullptr, detail::deterministicBuf,
                                            detail::noClose};
  randombytes_set_implementation(&impl);
  if (sodium_init() < 0) std::abort();
}
// At the start of every input: the same input then draws the same "random" bytes.
inline void resetRandom() { detail::randomCounter() = 0; }

inline membership::MeshKey meshKey() {
  membership::MeshKey k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(0xA0 + i);
  return k;
}

// Identity 1 is "us" (the receiver), 2 and 3 are peers.
inline const membership::Identity& identity(uint8_t n) {
  static const std::array<membership::Identity, 4> ids = [] {
    std::array<membership::Identity, 4> out{};
    for (uint8_t i = 0; i < out.size(); ++i) {
      std::array<uint8_t, 32> seed{};
      seed.fill(i);
      out[i] = membership::Identity::fromSeed(seed);
    }
    return out;
  }();
  return ids.at(n);
}

inline dataplane::SecretStreamFramer::Key framerKey() {
  dataplane::SecretStreamFramer::Key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(0x50 + i);
  return k;
}

// The boot epoch the seeds are sealed with.
inline constexpr uint64_t kPeerEpoch = 1000;

}  // namespace qmesh::fuzz

// A finding the sanitizers cannot see (a broken round trip, a replay accepted): abort, which
// libFuzzer reports as a crash with the input that caused it.
#define FUZZ_CHECK(cond)                                                              \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)
