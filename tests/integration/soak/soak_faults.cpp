#include "tests/integration/soak/soak_faults.h"

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "tests/support/http_client.h"

namespace qmesh::test::soak {

using namespace std::chrono_literals;

FaultInjector::FaultInjector(std::vector<MeshTestNode*> nodes, const NetnsHosts* hosts)
    : nodes_(std::move(nodes)), hosts_(hosts) {}

FaultInjector::~FaultInjector() {
  abort();
  for (const auto& p : stopped_) signalIfSame(p, SIGCONT);
  for (int n : std::vector<int>(partitioned_)) partition(n, false);
}

void FaultInjector::start(std::vector<Fault> schedule, Clock::time_point t0) {
  for (const auto& f : schedule) ++planned_[static_cast<int>(f.kind)];
  thread_ = std::thread([this, s = std::move(schedule), t0]() mutable { run(std::move(s), t0); });
}

void FaultInjector::abort() {
  {
    std::lock_guard lock(mu_);
    abort_ = true;
  }
  cv_.notify_all();
  join();
}

void FaultInjector::join() {
  if (thread_.joinable()) thread_.join();
}

bool FaultInjector::waitUntil(Clock::time_point t) {
  std::unique_lock lock(mu_);
  return !cv_.wait_until(lock, t, [&] { return abort_; });
}

void FaultInjector::run(std::vector<Fault> schedule, Clock::time_point t0) {
  const auto stamp = [&] {
    char at[32];
    std::snprintf(at, sizeof at, "%.2fs", std::chrono::duration<double>(Clock::now() - t0).count());
    return std::string(at);
  };
  for (const auto& f : schedule) {
    if (!waitUntil(t0 + f.at)) return;
    const std::string what = std::string(toString(f.kind)) + " n" + std::to_string(f.node + 1);
    std::cout << "[ soak ] " << stamp() << " " << what << std::endl;
    const auto begin = Clock::now();
    const bool done = apply(f);
    // A kill ends at the kill (the supervisor's restart is part of the healing measured);
    // a stop or a partition when it is undone.
    const auto now = f.hold.count() ? Clock::now() : begin;
    {
      std::lock_guard lock(mu_);
      if (done) ++injected_[static_cast<int>(f.kind)];
      lastHeal_ = std::max(lastHeal_, now);
    }
    if (!done) std::cout << "[ soak ] " << stamp() << " " << what << ": no process to hit (it was restarting)" << std::endl;
    else if (f.hold.count() || f.kind == FaultKind::KillRouter)
      std::cout << "[ soak ] " << stamp() << " " << what << (f.hold.count() ? " healed" : ": the new router answers") << std::endl;
  }
}

// Applies one fault and, for the ones with a hold, undoes it after the hold. False when
// there was nothing to hit (the target process was itself being restarted).
bool FaultInjector::apply(const Fault& f) {
  MeshTestNode& n = *nodes_[f.node];
  const pid_t sup = n.supervisorPid();
  switch (f.kind) {
    case FaultKind::KillWorker:
      return signalIfSame(childNamed(sup, "llama-server"), SIGKILL);
    case FaultKind::KillRouter: {
      const ProcId router = childNamed(sup, "qmesh-router");
      if (!router.valid()) return false;
      // The window opens before the signal: a client that sees its connection break must
      // find it open. It closes when the new router answers.
      std::size_t window;
      {
        std::lock_guard lock(mu_);
        window = routerDown_.size();
        routerDown_.push_back({f.node, Clock::now(), Clock::time_point::max()});
      }
      if (!signalIfSame(router, SIGKILL)) {
        std::lock_guard lock(mu_);
        routerDown_[window].to = routerDown_[window].from;
        return false;
      }
      const bool back = qmesh::test::waitUntil(
          [&] { return httpGet(n.routerUrl("/health"), 1s).status == 200; }, 30s, 50ms);
      std::lock_guard lock(mu_);
      routerDown_[window].to = Clock::now();
      if (!back) problems_.push_back("the router of n" + std::to_string(f.node + 1) + " was not back 30 s after kill -9");
      return true;
    }
    case FaultKind::StopWorker: {
      const ProcId w = childNamed(sup, "llama-server");
      if (!signalIfSame(w, SIGSTOP)) return false;
      {
        std::lock_guard lock(mu_);
        stopped_.push_back(w);
      }
      const bool held = waitUntil(Clock::now() + f.hold);
      std::lock_guard lock(mu_);
      // The supervisor may have found it hung and replaced it already: then w is gone.
      if (held) signalIfSame(w, SIGCONT);
      if (held) stopped_.erase(std::find_if(stopped_.begin(), stopped_.end(), [&](const ProcId& p) { return p.pid == w.pid; }));
      return true;
    }
    case FaultKind::PartitionNode: {
      if (!hosts_ || !partition(f.node, true)) return false;
      if (waitUntil(Clock::now() + f.hold)) partition(f.node, false);
      return true;
    }
  }
  return false;
}

// Drops everything between `node` and the other hosts, both ways (UDP gossip, TCP push-pull
// and data plane alike); the test's own address on the switch stays reachable.
bool FaultInjector::partition(int node, bool cut) {
  bool ok = true;
  if (cut) {
    for (int peer = 0; peer < hosts_->size(); ++peer) {
      if (peer == node) continue;
      for (const auto& rule : {std::vector<std::string>{"-A", "INPUT", "-s", hosts_->address(peer), "-j", "DROP"},
                               std::vector<std::string>{"-A", "OUTPUT", "-d", hosts_->address(peer), "-j", "DROP"}})
        if (auto st = hosts_->iptables(node, rule); !st) {
          note("iptables on n" + std::to_string(node + 1) + ": " + st.error().message);
          ok = false;
        }
    }
    std::lock_guard lock(mu_);
    partitioned_.push_back(node);
    return ok;
  }
  for (const char* chain : {"INPUT", "OUTPUT"})
    if (auto st = hosts_->iptables(node, {"-F", chain}); !st) {
      note("iptables -F on n" + std::to_string(node + 1) + ": " + st.error().message);
      ok = false;
    }
  std::lock_guard lock(mu_);
  partitioned_.erase(std::remove(partitioned_.begin(), partitioned_.end(), node), partitioned_.end());
  return ok;
}

void FaultInjector::note(const std::string& problem) {
  std::lock_guard lock(mu_);
  problems_.push_back(problem);
}

bool FaultInjector::routerDown(int node, Clock::time_point from, Clock::time_point to) const {
  std::lock_guard lock(mu_);
  for (const auto& w : routerDown_)
    if (w.node == node && w.from <= to && from <= w.to) return true;
  return false;
}

Clock::time_point FaultInjector::lastHeal() const {
  std::lock_guard lock(mu_);
  return lastHeal_;
}

std::array<int, kFaultKinds> FaultInjector::planned() const {
  std::lock_guard lock(mu_);
  return planned_;
}

std::array<int, kFaultKinds> FaultInjector::injected() const {
  std::lock_guard lock(mu_);
  return injected_;
}

std::vector<std::string> FaultInjector::problems() const {
  std::lock_guard lock(mu_);
  return problems_;
}

}  // namespace qmesh::test::soak
