// /livez and /readyz (issue 12): what a process manager or a load balancer asks the router.
#include "router/proxy/probes.h"

#include <gtest/gtest.h>

#include "tests/support/fake_clock.h"

using namespace qmesh::router;

namespace {
void addWorker(RouterContext& st, WorkerState state) {
  StatusSnapshot s;
  s.workers.push_back(WorkerInfo{"demo", "127.0.0.1", 9, 1, state, 1, false, 0});
  st.directory.apply(s);
  st.directoryLoaded = true;
}
}  // namespace

TEST(Probes, ReadyWithARoutableWorker) {
  qmesh::test::FakeClock clock;
  RouterContext st{RouterConfig{}, clock};
  addWorker(st, WorkerState::Ready);
  EXPECT_EQ(readinessProbe(st, false).first, 200);
  EXPECT_EQ(livenessProbe(false).first, 200);
}

TEST(Probes, NotReadyWhileDrainingButStillLive) {
  qmesh::test::FakeClock clock;
  RouterContext st{RouterConfig{}, clock};
  addWorker(st, WorkerState::Ready);
  const auto [status, body] = readinessProbe(st, true);
  EXPECT_EQ(status, 503);
  EXPECT_NE(body.find("draining"), std::string::npos);
  EXPECT_EQ(livenessProbe(true).first, 200);
}

TEST(Probes, NotReadyWithoutARoutableWorkerOrBeforeTheSupervisorAnswers) {
  qmesh::test::FakeClock clock;
  RouterContext loading{RouterConfig{}, clock};
  addWorker(loading, WorkerState::Loading);
  EXPECT_EQ(readinessProbe(loading, false).first, 503);
  EXPECT_NE(readinessProbe(loading, false).second.find("no_ready_worker"), std::string::npos);
  RouterContext fresh{RouterConfig{}, clock};
  EXPECT_EQ(readinessProbe(fresh, false).first, 503);
  EXPECT_NE(readinessProbe(fresh, false).second.find("no_supervisor_status"), std::string::npos);
}

// Issue 10: a request for an unloaded model loads it, so a supervised router whose models are
// all unloaded still takes requests; a static one cannot load anything.
TEST(Probes, ReadyWithOnlyAnUnloadedModelWhenSupervised) {
  qmesh::test::FakeClock clock;
  RouterConfig supervised;
  supervised.control = qmesh::HostPort{"127.0.0.1", 7070};
  RouterContext st{supervised, clock};
  addWorker(st, WorkerState::Unloaded);
  EXPECT_EQ(readinessProbe(st, false).first, 200);
  RouterContext staticMode{RouterConfig{}, clock};
  addWorker(staticMode, WorkerState::Unloaded);
  EXPECT_EQ(readinessProbe(staticMode, false).first, 503);
}
