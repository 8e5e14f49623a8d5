// Time comes in through this seam so that protocol and supervision logic can be driven by a
// simulated clock in tests; only mains construct the steady one.
#pragma once

#include <chrono>

namespace qmesh {

using TimePoint = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace qmesh
