// Helpers of the tests that drive UdpTransport over real loopback sockets.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/net.h"

namespace qmesh::membership::test {

// Runs io until done() holds (true) or limit passes (false). Slices of 10 ms so that a
// condition that turns true without an event (a counter read between handlers) is seen;
// an io_context out of work can make nothing true any more, so that ends the wait at once.
inline bool runUntil(net::io_context& io, const std::function<bool()>& done,
                     std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  using std::chrono::steady_clock;
  const auto deadline = steady_clock::now() + limit;
  while (!done()) {
    if (steady_clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    const auto slice = std::min(deadline, steady_clock::now() + std::chrono::milliseconds(10));
    if (io.run_one_until(slice) == 0 && io.stopped()) return done();  // out of work
  }
  return true;
}

// The header of a push-pull frame as UdpTransport reads it: the sender's address (2-byte
// length, then the text), then the payload length (4 bytes, big-endian).
inline std::vector<uint8_t> frameHeader(const std::string& from, uint32_t dataLen) {
  std::vector<uint8_t> f{static_cast<uint8_t>(from.size() >> 8), static_cast<uint8_t>(from.size())};
  f.insert(f.end(), from.begin(), from.end());
  for (int i = 3; i >= 0; --i) f.push_back(static_cast<uint8_t>(dataLen >> (8 * i)));
  return f;
}

}  // namespace qmesh::membership::test
