// A Clock that moves only when the test says so: timers and deadlines in the code under test
// become plain arithmetic, and a test reads as a timeline of advance() calls.
#pragma once

#include <atomic>
#include <chrono>

#include "common/clock.h"
#include "common/node_config.h"

namespace qmesh::test {

class FakeClock final : public Clock {
 public:
  // Starts far from the epoch, so a default-constructed TimePoint{} in the code under test is
  // "long ago" rather than "now" and cannot hide a missing initialisation.
  explicit FakeClock(TimePoint start = TimePoint{} + std::chrono::hours(24 * 365))
      : now_(start) {}

  TimePoint now() const override { return now_; }
  void advance(Millis d) { now_ += d; }
  void set(TimePoint t) { now_ = t; }

 private:
  TimePoint now_;
};

// The steady clock plus an offset the test moves, safe to read from another thread: for code
// that also waits on real timers (a router in a RouterHarness), where a clock that stood
// still would stop it, but a test must still tell "read the injected clock" from "read the
// system's".
class OffsetClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now() + Millis(offsetMs_.load()); }
  void advance(Millis d) { offsetMs_ += d.count(); }

 private:
  std::atomic<Millis::rep> offsetMs_{0};
};

}  // namespace qmesh::test
