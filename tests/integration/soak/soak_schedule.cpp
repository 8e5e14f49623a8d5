#include "tests/integration/soak/soak_schedule.h"

#include <cstdio>
#include <random>

namespace qmesh::test::soak {

using std::chrono::milliseconds;

const char* toString(FaultKind k) {
  switch (k) {
    case FaultKind::KillWorker: return "kill-worker";
    case FaultKind::KillRouter: return "kill-router";
    case FaultKind::StopWorker: return "stop-worker";
    case FaultKind::PartitionNode: return "partition-node";
  }
  return "?";
}

std::vector<Fault> makeSchedule(const ScheduleOptions& o) {
  // mt19937_64's output is fixed by the standard (the distributions are not): draw with
  // plain modulo so every standard library gives the same schedule for a seed.
  std::mt19937_64 rng(o.seed);
  const auto uniform = [&](int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(rng() % uint64_t(hi - lo + 1)); };
  std::vector<Fault> out;
  milliseconds t{uniform(o.minGap.count(), o.maxGap.count())};
  const milliseconds end = o.duration - o.quietTail;
  // Room for one more gap at the end, for the final kill -9 of a router (below).
  const milliseconds loopEnd = end - o.maxGap;
  for (;;) {
    const int kinds = o.partitions ? kFaultKinds : kFaultKinds - 1;
    Fault f{t, static_cast<FaultKind>(uniform(0, kinds - 1)), static_cast<int>(uniform(0, o.nodes - 1)), milliseconds{0}};
    // Long enough for the supervisor's hang detection (2 polls of 200 ms) to fire or not;
    // a partition long enough for SWIM to declare the node dead (a few seconds) or not.
    if (f.kind == FaultKind::StopWorker) f.hold = milliseconds{uniform(200, 2500)};
    if (f.kind == FaultKind::PartitionNode) f.hold = milliseconds{uniform(1000, 8000)};
    if (f.healedAt() > loopEnd) break;
    out.push_back(f);
    t = f.healedAt() + milliseconds{uniform(o.minGap.count(), o.maxGap.count())};
  }
  // The last fault is a router's kill -9 (it fits unless the soak lasts only a few gaps):
  // "the full model set again within 5 s of the last fault" then always measures a real
  // recovery (a new router learning the mesh again), never a short partition or stop that
  // no node noticed.
  if (t <= end && (out.empty() || out.back().kind != FaultKind::KillRouter))
    out.push_back({t, FaultKind::KillRouter, static_cast<int>(uniform(0, o.nodes - 1)), milliseconds{0}});
  return out;
}

std::string describe(const std::vector<Fault>& faults) {
  std::string out;
  char line[96];
  for (const auto& f : faults) {
    std::snprintf(line, sizeof line, "  %8.2fs %-14s n%d", f.at.count() / 1000.0, toString(f.kind), f.node + 1);
    out += line;
    if (f.hold.count()) {
      std::snprintf(line, sizeof line, " for %.2fs", f.hold.count() / 1000.0);
      out += line;
    }
    out += "\n";
  }
  return out;
}

}  // namespace qmesh::test::soak
