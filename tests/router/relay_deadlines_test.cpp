// The relay's one timer (relay_deadlines.h) as timelines on a fake clock: what is due when,
// and when the timer fires next. No sockets: the relay only reads these answers.
#include "router/proxy/relay_deadlines.h"

#include <gtest/gtest.h>

#include "tests/support/fake_clock.h"

using namespace qmesh;
using namespace qmesh::router;
using namespace std::chrono_literals;

namespace {

// keepalive 15 s, write timeout 120 s, stall 30 s: the defaults.
RelayTimeouts relayTimeoutsFor(bool sse, bool continuable) {
  RelayTimeouts t;
  t.sse = sse;
  t.continuable = continuable;
  return t;
}

}  // namespace

TEST(RelayDeadlines, IdleEventStreamGetsItsKeepaliveOneIntervalAfterTheLastWrite) {
  test::FakeClock clock;
  const auto t = relayTimeoutsFor(true, false);
  RelayTimes s;
  s.lastWrite = s.lastUpstream = clock.now();
  const TimePoint wrote = clock.now();
  clock.advance(4s);
  EXPECT_EQ(nextRelayTick(t, s, clock.now()), wrote + 15s);
  EXPECT_FALSE(relayDue(t, s, clock.now()).keepalive);
  clock.advance(11s);
  EXPECT_TRUE(relayDue(t, s, clock.now()).keepalive);
}

TEST(RelayDeadlines, PlainBodyIsOnlyWatchedForAClientThatStopsReading) {
  test::FakeClock clock;
  const auto t = relayTimeoutsFor(false, false);
  RelayTimes s;
  s.lastWrite = s.lastUpstream = clock.now() - 1h;
  EXPECT_EQ(nextRelayTick(t, s, clock.now()), clock.now() + 120s);
  const RelayDue d = relayDue(t, s, clock.now());
  EXPECT_FALSE(d.keepalive || d.stall || d.checkWorker || d.cut);
}

TEST(RelayDeadlines, WriteStuckForTheWriteTimeoutCutsTheClient) {
  test::FakeClock clock;
  const auto t = relayTimeoutsFor(true, true);
  RelayTimes s;
  s.lastWrite = s.lastUpstream = s.writeStart = clock.now();
  s.writing = true;
  clock.advance(119s);
  EXPECT_FALSE(relayDue(t, s, clock.now()).cut);
  clock.advance(1s);
  const RelayDue d = relayDue(t, s, clock.now());
  EXPECT_TRUE(d.cut);
  EXPECT_FALSE(d.stall) << "a client that stops reading is not the worker stalling";
}

TEST(RelayDeadlines, ContinuableStreamIsStalledAfterTheStallTimeoutWithoutAByte) {
  test::FakeClock clock;
  const auto t = relayTimeoutsFor(true, true);
  RelayTimes s;
  s.lastWrite = s.lastUpstream = clock.now();
  clock.advance(29s);
  s.lastWrite = clock.now();  // keepalive comments went out meanwhile
  RelayDue d = relayDue(t, s, clock.now());
  EXPECT_FALSE(d.stall);
  EXPECT_TRUE(d.checkWorker);
  clock.advance(1s);
  d = relayDue(t, s, clock.now());
  EXPECT_TRUE(d.stall);
  EXPECT_FALSE(d.checkWorker);
}

TEST(RelayDeadlines, ContinuableStreamLooksAtItsWorkerEverySecond) {
  test::FakeClock clock;
  const auto t = relayTimeoutsFor(true, true);
  RelayTimes s;
  s.lastWrite = s.lastUpstream = clock.now();
  EXPECT_EQ(nextRelayTick(t, s, clock.now()), clock.now() + kWorkerCheck);
}

// The deadlines that cannot be acted on now (a keepalive or a stall while a slow client's
// write is pending, or during a failover) must not make the timer fire again at once: that
// was a timer every millisecond for as long as the write took.
TEST(RelayDeadlines, PassedDeadlinesThatCannotBeActedOnDoNotSpinTheTimer) {
  test::FakeClock clock;
  const auto t = relayTimeoutsFor(true, true);
  RelayTimes s;
  s.lastWrite = s.lastUpstream = clock.now();
  clock.advance(40s);
  s.writeStart = clock.now() - 5s;
  s.writing = true;
  EXPECT_EQ(nextRelayTick(t, s, clock.now()), clock.now() + kWorkerCheck);
  s.writing = false;
  s.failingOver = true;
  EXPECT_EQ(nextRelayTick(t, s, clock.now()), clock.now() + kWorkerCheck);
  const RelayDue d = relayDue(t, s, clock.now());
  EXPECT_FALSE(d.stall || d.keepalive || d.checkWorker);
  // A keepalive that could not go out (the relay was inside an event) is tried again a
  // whole interval later.
  const auto plain = relayTimeoutsFor(true, false);
  s.failingOver = false;
  EXPECT_EQ(nextRelayTick(plain, s, clock.now()), clock.now() + 15s);
}
