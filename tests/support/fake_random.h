// A Random whose answers the test chooses: a fixed value, or a script consumed in order
// (then the fixed value again once the script runs out).
#pragma once

#include <cstdint>
#include <deque>
#include <initializer_list>

#include "common/random.h"

namespace qmesh::test {

class FakeRandom final : public Random {
 public:
  // 0.5 makes jitter a no-op: factor = 1 + jitter * (2 * 0.5 - 1) = 1.
  explicit FakeRandom(double fixed = 0.5) : fixed_(fixed) {}

  void setFixed(double v) { fixed_ = v; }
  void script(std::initializer_list<double> values) { script_.insert(script_.end(), values); }
  int calls() const { return calls_; }

  double uniform01() override {
    ++calls_;
    if (script_.empty()) return fixed_;
    const double v = script_.front();
    script_.pop_front();
    return v;
  }
  // Same source as uniform01, mapped onto [0, n).
  uint64_t below(uint64_t n) override {
    const auto v = static_cast<uint64_t>(uniform01() * static_cast<double>(n));
    return v < n ? v : n - 1;
  }

 private:
  double fixed_;
  std::deque<double> script_;
  int calls_ = 0;
};

}  // namespace qmesh::test
