// A node is named by its Ed25519 public key: stable across restarts when the key is
// persisted, and the thing its signed claims can be checked against.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>

namespace qmesh::membership {

struct NodeId {
  static constexpr std::size_t kSize = 32;
  std::array<uint8_t, kSize> bytes{};

  auto operator<=>(const NodeId&) const = default;
  bool operator==(const NodeId&) const = default;

  bool isZero() const {
    for (uint8_t b : bytes) if (b != 0) return false;
    return true;
  }
  // First 8 bytes in hex: enough to tell nodes apart in a log line.
  std::string shortHex() const {
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (std::size_t i = 0; i < 8; ++i) {
      s.push_back(digits[bytes[i] >> 4]);
      s.push_back(digits[bytes[i] & 15]);
    }
    return s;
  }
};

struct NodeIdHash {
  std::size_t operator()(const NodeId& id) const {
    std::size_t h;
    std::memcpy(&h, id.bytes.data(), sizeof h);  // keys are uniformly random already
    return h;
  }
};

}  // namespace qmesh::membership
