// /livez and /readyz (issue 12): what a process manager or a load balancer asks the router.
#include "router/proxy/probes.h"

#include <gtest/gtest.h>

using namespace qmesh::router;

namespace {
void addWorker(RouterState& st, WorkerState state) {
  StatusSnapshot s;
  s.workers.push_back(WorkerInfo{"demo", "127.0.0.1", 9, 1, state, 1, false, 0});
  st.directory.apply(s);
  st.directoryLoaded = true;
}
}  // namespace

TEST(Probes, ReadyWithARoutableWorker) {
  RouterState st{RouterConfig{}};
  addWorker(st, WorkerState::Ready);
  EXPECT_EQ(readinessProbe(st).first, 200);
  EXPECT_EQ(livenessProbe(st).first, 200);
}

TEST(Probes, NotReadyWhileDrainingButStillLive) {
  RouterState st{RouterConfig{}};
  addWorker(st, WorkerState::Ready);
  st.draining = true;
  const auto [status, body] = readinessProbe(st);
  EXPECT_EQ(status, 503);
  EXPECT_NE(body.find("draining"), std::string::npos);
  EXPECT_EQ(livenessProbe(st).first, 200);
}

TEST(Probes, NotReadyWithoutARoutableWorkerOrBeforeTheSupervisorAnswers) {
  RouterState loading{RouterConfig{}};
  addWorker(loading, WorkerState::Loading);
  EXPECT_EQ(readinessProbe(loading).first, 503);
  EXPECT_NE(readinessProbe(loading).second.find("no_ready_worker"), std::string::npos);
  RouterState fresh{RouterConfig{}};
  EXPECT_EQ(readinessProbe(fresh).first, 503);
  EXPECT_NE(readinessProbe(fresh).second.find("no_supervisor_status"), std::string::npos);
}
