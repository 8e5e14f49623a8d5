// A small valid GGUF made in memory: llama architecture, one F32 tensor of the given size
// (so a download test has enough bytes to cut, stall and resume in the middle of).
#pragma once

#include <sodium.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace qmesh::test {

inline std::string makeTestGguf(uint64_t tensorBytes = 1 << 20) {
  auto le32 = [](uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); };
  auto le64 = [](uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); };
  auto str = [&](const std::string& s) { return le64(s.size()) + s; };
  std::string b = "GGUF" + le32(3) + le64(1) + le64(1);
  b += str("general.architecture") + le32(8 /*string*/) + str("llama");
  b += str("w") + le32(1) + le64(tensorBytes / 4) + le32(0 /*F32*/) + le64(0);
  b.resize((b.size() + 31) / 32 * 32, '\0');
  const size_t start = b.size();
  b.resize(start + tensorBytes);
  for (size_t i = start; i < b.size(); ++i) b[i] = static_cast<char>(i * 2654435761u >> 13);
  return b;
}

inline std::string sha256Hex(const std::string& bytes) {
  unsigned char d[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(d, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  char hex[sizeof d * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, d, sizeof d);
  return hex;
}

}  // namespace qmesh::test
