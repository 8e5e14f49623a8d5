// Load on demand and unload (ChildSupervisor::markUnloaded/load/unload), as timelines on a
// fake clock: an unloaded model runs nothing and is never restarted; load spawns it; unload
// ends it with SIGTERM (SIGKILL after stop_grace) and it stays down.
#include "tests/supervisor/child_supervisor_fixture.h"

namespace qmesh::test {
namespace {

TEST_F(ChildSupervisorTest, MarkedUnloadedRunsNothingUntilLoaded) {
  sup().markUnloaded();
  EXPECT_EQ(sup().state(), ChildState::Unloaded);
  advance(10min);
  EXPECT_EQ(launcher_.attempts(), 0);
  EXPECT_EQ(prober_.count(), 0u);

  ASSERT_TRUE(sup().load());
  EXPECT_EQ(sup().state(), ChildState::Starting);
  EXPECT_EQ(launcher_.launches(), 1);
  sup().tick();
  prober_.answerLast(ok200());
  EXPECT_EQ(sup().state(), ChildState::Ready);
  EXPECT_FALSE(sup().load());  // already loaded
}

TEST_F(ChildSupervisorTest, UnloadTerminatesAndNeverRestarts) {
  startReady();
  ASSERT_TRUE(sup().unload());
  EXPECT_EQ(sup().state(), ChildState::Unloaded);  // at once: nothing more is routed to it
  EXPECT_EQ(launcher_.signals(), (std::vector<int>{SIGTERM, SIGCONT}));
  EXPECT_EQ(sup().snapshot().pid, 1001);  // still exiting

  crash(exitedWith(0));
  EXPECT_EQ(sup().state(), ChildState::Unloaded);
  EXPECT_EQ(sup().snapshot().pid, -1);
  advance(10min);
  EXPECT_EQ(launcher_.attempts(), 1);  // no restart
  EXPECT_EQ(sup().snapshot().restarts, 0);
  EXPECT_FALSE(sup().unload());  // already unloaded
}

TEST_F(ChildSupervisorTest, UnloadKillsAChildThatIgnoresSigtermAfterTheGrace) {
  startReady();
  sup().unload();
  launcher_.clearSignals();
  advance(s_.stop_grace - 1ms);
  EXPECT_TRUE(launcher_.signals().empty());
  advance(1ms);
  EXPECT_EQ(launcher_.signals(), (std::vector<int>{SIGKILL}));
  crash(killedBy(SIGKILL));
  EXPECT_EQ(sup().state(), ChildState::Unloaded);
}

TEST_F(ChildSupervisorTest, LoadWhileTheUnloadedInstanceStillExitsSpawnsOnceItIsReaped) {
  startReady();
  sup().unload();
  ASSERT_TRUE(sup().load());
  EXPECT_EQ(launcher_.launches(), 1);  // never two instances at once
  crash(exitedWith(0));
  EXPECT_EQ(launcher_.launches(), 2);
  EXPECT_EQ(sup().state(), ChildState::Starting);
}

TEST_F(ChildSupervisorTest, UnloadDuringARestartBackoffCancelsTheRestart) {
  startReady();
  crash();
  ASSERT_EQ(sup().state(), ChildState::Restarting);
  ASSERT_TRUE(sup().unload());
  advance(1min);
  EXPECT_EQ(launcher_.attempts(), 1);
  EXPECT_EQ(sup().state(), ChildState::Unloaded);
}

TEST_F(ChildSupervisorTest, StopEndsAnUnloadedChildAsStopped) {
  sup().markUnloaded();
  sup().stop();
  EXPECT_TRUE(sup().finished());
  EXPECT_FALSE(sup().load());
}

}  // namespace
}  // namespace qmesh::test
