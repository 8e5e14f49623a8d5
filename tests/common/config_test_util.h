// Helpers shared by the node config and mesh setup tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>

#include "common/mesh_keys.h"

namespace qmesh::test {

// Lines joined with '\n', so a line number in an assertion is the index in the list + 1.
inline std::string yaml(std::initializer_list<std::string> lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

inline ::testing::AssertionResult Contains(const std::string& text, const std::string& needle) {
  if (text.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected to find\n  " << needle << "\nin\n  " << text;
}

// A recognisable mesh key: every byte `fill`.
inline MeshKeyBytes keyOf(uint8_t fill) {
  MeshKeyBytes k;
  k.fill(fill);
  return k;
}

}  // namespace qmesh::test
