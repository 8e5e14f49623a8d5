// The chaos soak's fault schedule: a pure function of (seed, duration, node count, whether
// partitions are possible), so the same seed replays the same faults at the same offsets.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace qmesh::test::soak {

enum class FaultKind {
  KillWorker,     // kill -9 of a node's llama-server; its supervisor restarts it
  KillRouter,     // kill -9 of a node's qmesh-router; its supervisor restarts it
  StopWorker,     // SIGSTOP of a llama-server for `hold`, then SIGCONT (the supervisor may
                  // declare it hung and restart it first)
  PartitionNode,  // iptables cuts a node off from the other nodes for `hold`, then heals
};
constexpr int kFaultKinds = 4;
const char* toString(FaultKind k);

struct Fault {
  std::chrono::milliseconds at;    // offset from the start of the soak
  FaultKind kind;
  int node;                        // 0-based
  std::chrono::milliseconds hold;  // StopWorker and PartitionNode: until the heal; else 0
  std::chrono::milliseconds healedAt() const { return at + hold; }
};

struct ScheduleOptions {
  uint64_t seed = 1;
  std::chrono::milliseconds duration{60000};
  int nodes = 3;
  bool partitions = true;
  // No fault starts or heals in the last `quietTail` of the soak: the restarted processes
  // serve load before the end (their descriptor and memory baseline is taken after it).
  std::chrono::milliseconds quietTail{10000};
  // Gap between one fault's heal and the next fault's start: uniform in [minGap, maxGap].
  std::chrono::milliseconds minGap{1500}, maxGap{4500};
};

// Faults one after another (each starts after the previous one healed), in time order; the
// last one a router's kill -9 when there is room for it.
std::vector<Fault> makeSchedule(const ScheduleOptions& o);

// "12.30s kill-router n2" etc., one line per fault.
std::string describe(const std::vector<Fault>& faults);

}  // namespace qmesh::test::soak
