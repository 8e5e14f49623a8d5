// Helpers shared by the node config tests.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

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

}  // namespace qmesh::test
