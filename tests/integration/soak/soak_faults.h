// Applies a soak schedule (soak_schedule.h) to real nodes: kill -9 of llama-servers and
// routers (their supervisors restart them), SIGSTOP/SIGCONT of llama-servers, iptables
// partitions of a node's network namespace. Remembers when each router was down, so a
// client whose own router was killed under it is told apart from a lost request. Whatever
// it did is undone when it stops or dies: stopped workers continued, partitions healed.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/mesh_fixture.h"
#include "tests/integration/netns_hosts.h"
#include "tests/integration/soak/soak_load.h"
#include "tests/integration/soak/soak_procs.h"
#include "tests/integration/soak/soak_schedule.h"

namespace qmesh::test::soak {

class FaultInjector {
 public:
  // `hosts` is null when there are no network namespaces (PartitionNode is then never planned).
  FaultInjector(std::vector<MeshTestNode*> nodes, const NetnsHosts* hosts);
  ~FaultInjector();  // aborts the schedule, then undoes what is still in effect
  FaultInjector(const FaultInjector&) = delete;
  FaultInjector& operator=(const FaultInjector&) = delete;

  // Runs the schedule on a thread of its own; offsets count from `t0`.
  void start(std::vector<Fault> schedule, Clock::time_point t0);
  void join();
  void abort();  // ends the schedule early (what is in effect is undone at destruction)

  bool routerDown(int node, Clock::time_point from, Clock::time_point to) const;
  // When the last fault ended: for a kill, the kill itself (the restart counts as healing
  // time); for a stop, the SIGCONT; for a partition, the heal.
  Clock::time_point lastHeal() const;
  std::array<int, kFaultKinds> planned() const;
  std::array<int, kFaultKinds> injected() const;  // a kill finds no process while it restarts
  std::vector<std::string> problems() const;      // e.g. a router that never came back

 private:
  void run(std::vector<Fault> schedule, Clock::time_point t0);
  bool waitUntil(Clock::time_point t);  // false when aborted
  bool apply(const Fault& f);
  bool partition(int node, bool cut);
  void note(const std::string& problem);

  std::vector<MeshTestNode*> nodes_;
  const NetnsHosts* hosts_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool abort_ = false;
  struct Window {
    int node;
    Clock::time_point from, to;
  };
  std::vector<Window> routerDown_;
  Clock::time_point lastHeal_{};
  std::array<int, kFaultKinds> planned_{}, injected_{};
  std::vector<std::string> problems_;
  std::vector<ProcId> stopped_;   // SIGSTOPped and not yet continued
  std::vector<int> partitioned_;  // nodes cut off and not yet healed
};

}  // namespace qmesh::test::soak
