#include "router/routing/admission.h"

#include <gtest/gtest.h>

#include "router/routing/admission_queue.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_random.h"

using namespace qmesh::router;
using namespace std::chrono_literals;

TEST(AdmissionQueue, IsFifoAndBounded) {
  AdmissionQueue q(2);
  const auto t0 = SteadyClock::now();
  EXPECT_TRUE(q.push(1, t0 + 1s));
  EXPECT_TRUE(q.push(2, t0 + 1s));
  EXPECT_FALSE(q.push(3, t0 + 1s));
  EXPECT_EQ(q.pop(), 1u);
  EXPECT_EQ(q.pop(), 2u);
  EXPECT_FALSE(q.pop());
}

TEST(AdmissionQueue, ExpiresOnlyPastDeadlinesAndRemovesCancelled) {
  AdmissionQueue q(10);
  const auto t0 = SteadyClock::now();
  q.push(1, t0 + 5s);
  q.push(2, t0 + 1s);
  q.push(3, t0 + 3s);
  EXPECT_EQ(q.expire(t0 + 3s), (std::vector<uint64_t>{2, 3}));
  EXPECT_TRUE(q.remove(1));
  EXPECT_FALSE(q.remove(1));
  EXPECT_TRUE(q.empty());
}

namespace {

// One model "m" with one worker of `slots` slots, and a way to run acquire() to completion.
struct Fixture {
  net::io_context io;
  WorkerDirectory dir;
  qmesh::test::FakeRandom random{0.0};  // below(n) is always 0
  qmesh::test::FakeClock clock;
  std::shared_ptr<Admission> adm;

  Fixture(int slots, std::size_t depth, std::chrono::milliseconds timeout) {
    StatusSnapshot s;
    s.workers.push_back(WorkerInfo{"m", "127.0.0.1", 9, slots, WorkerState::Ready, 1, false, 0});
    dir.apply(s);
    adm = std::make_shared<Admission>(dir, random, clock, depth, timeout);
  }
  // Starts acquire; the result lands in `out` once the coroutine finishes.
  // The queue reads deadlines on the clock; a waiter's real timer (the whole timeout) never
  // fires in these tests, which only poll: expireDue() is what it would call.
  void advance(std::chrono::milliseconds d) {
    clock.advance(d);
    adm->expireDue();
    poll();
  }
  void start(uint64_t ticket, std::optional<AdmissionResult>& out) {
    net::co_spawn(io, adm->acquire("m", ticket), [&out](std::exception_ptr, AdmissionResult r) { out = std::move(r); });
    poll();
  }
  // An io_context that ran out of work is stopped: restart it before every poll.
  void poll() {
    io.restart();
    io.poll();
  }
  Worker& worker() { return *dir.workersOf("m")[0]; }
};

}  // namespace

TEST(Admission, GrantsFreeSlotsAtOnceAndCountsThem) {
  Fixture f(2, 4, 1s);
  std::optional<AdmissionResult> a, b;
  f.start(1, a);
  f.start(2, b);
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(a->lease && b->lease);
  EXPECT_EQ(f.worker().outstanding, 2);
  a->lease.release();
  EXPECT_EQ(f.worker().outstanding, 1);
}

TEST(Admission, QueuedRequestGetsTheSlotWhenOneFrees) {
  Fixture f(1, 4, 10s);
  std::optional<AdmissionResult> first, second;
  f.start(1, first);
  f.start(2, second);
  ASSERT_TRUE(first && first->lease);
  EXPECT_FALSE(second);  // waiting
  EXPECT_EQ(f.adm->queued("m"), 1u);
  first->lease.release();
  f.poll();
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->lease);
  EXPECT_EQ(f.worker().outstanding, 1);
}

TEST(Admission, FullQueueIs429WithRetryAfter) {
  Fixture f(1, 1, 10s);
  std::optional<AdmissionResult> a, b, c;
  f.start(1, a);
  f.start(2, b);
  f.start(3, c);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->rejection);
  EXPECT_EQ(c->rejection->status, 429);
  EXPECT_EQ(c->rejection->code, "queue_full");
  EXPECT_GE(c->rejection->retry_after_s, 1);
  f.adm->cancel(2);
  f.poll();
}

TEST(Admission, DeadlineInQueueIs503) {
  Fixture f(1, 4, 20ms);
  std::optional<AdmissionResult> a, b;
  f.start(1, a);
  f.start(2, b);
  f.io.restart();
  f.io.run_for(2s);  // returns once b's deadline fired and nothing else is pending
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->rejection);
  EXPECT_EQ(b->rejection->status, 503);
  EXPECT_EQ(b->rejection->code, "queue_timeout");
  EXPECT_EQ(f.adm->queued("m"), 0u);
}

TEST(Admission, CancelledWaiterLeavesTheQueue) {
  Fixture f(1, 4, 10s);
  std::optional<AdmissionResult> a, b;
  f.start(1, a);
  f.start(2, b);
  f.adm->cancel(2);
  f.poll();
  ASSERT_TRUE(b && b->rejection);
  EXPECT_EQ(b->rejection->code, "client_closed");
  EXPECT_EQ(f.adm->queued("m"), 0u);
  a->lease.release();
  EXPECT_EQ(f.worker().outstanding, 0);
}

TEST(Admission, NoReadyWorkerIs503AtOnceAndWaitersFailFast) {
  Fixture f(1, 4, 10s);
  std::optional<AdmissionResult> a, b, c;
  f.start(1, a);
  f.start(2, b);
  StatusSnapshot s;
  s.workers.push_back(WorkerInfo{"m", "127.0.0.1", 9, 1, WorkerState::Restarting, 1, false, 0});
  f.dir.apply(s);
  f.adm->onDirectoryChanged();
  f.poll();
  ASSERT_TRUE(b && b->rejection);
  EXPECT_EQ(b->rejection->code, "no_ready_worker");
  f.start(3, c);
  ASSERT_TRUE(c && c->rejection);
  EXPECT_EQ(c->rejection->status, 503);
}

TEST(Admission, RetryNeverPicksTheExcludedWorker) {
  Fixture f(4, 4, 1s);
  Lease l = f.adm->tryAcquire("m", &f.worker());
  EXPECT_FALSE(l);
  Lease k = f.adm->tryAcquire("m", nullptr);
  EXPECT_TRUE(k);
  EXPECT_EQ(k.reason(), "least-loaded 0/4");
}

// The queue and the deadlines on a FakeClock: no sleeps, and time moves only as each test says.

TEST(AdmissionOnTheClock, QueuedRequestTimesOutExactlyAtItsDeadline) {
  Fixture f(1, 4, 10s);
  std::optional<AdmissionResult> a, b;
  f.start(1, a);
  f.start(2, b);
  ASSERT_TRUE(a && a->lease);
  f.advance(10s - 1ms);
  EXPECT_FALSE(b) << "expired before its deadline";
  EXPECT_EQ(f.adm->queued("m"), 1u);
  f.advance(1ms);
  ASSERT_TRUE(b) << "still waiting at its deadline";
  ASSERT_TRUE(b->rejection);
  EXPECT_EQ(b->rejection->status, 503);
  EXPECT_EQ(b->rejection->code, "queue_timeout");
  EXPECT_EQ(b->rejection->retry_after_s, 10);
  EXPECT_EQ(f.adm->queued("m"), 0u);
  EXPECT_EQ(f.adm->rejected("queue_timeout"), 1u);
}

TEST(AdmissionOnTheClock, QueuedRequestGetsASlotFreedJustBeforeItsDeadlineAndKeepsIt) {
  Fixture f(1, 4, 10s);
  std::optional<AdmissionResult> a, b;
  f.start(1, a);
  f.start(2, b);
  f.advance(10s - 1ms);
  ASSERT_FALSE(b);
  a->lease.release();
  f.poll();
  ASSERT_TRUE(b) << "not admitted when the slot freed";
  EXPECT_TRUE(b->lease);
  EXPECT_EQ(f.worker().outstanding, 1);
  f.advance(1h);  // its deadline is long past: an admitted request is no longer in the queue
  EXPECT_TRUE(b->lease);
  EXPECT_EQ(f.adm->queued("m"), 0u);
  EXPECT_EQ(f.adm->rejected("queue_timeout"), 0u);
}

TEST(AdmissionOnTheClock, EachQueuedRequestExpiresAtItsOwnDeadline) {
  Fixture f(1, 4, 10s);
  std::optional<AdmissionResult> a, early, late;
  f.start(1, a);
  f.start(2, early);
  f.advance(4s);
  f.start(3, late);  // queued 4 s after `early`
  f.advance(6s);
  ASSERT_TRUE(early && early->rejection);
  EXPECT_EQ(early->rejection->code, "queue_timeout");
  EXPECT_FALSE(late) << "expired on the earlier request's deadline";
  EXPECT_EQ(f.adm->queued("m"), 1u);
  f.advance(4s - 1ms);
  EXPECT_FALSE(late);
  f.advance(1ms);
  ASSERT_TRUE(late && late->rejection);
  EXPECT_EQ(late->rejection->code, "queue_timeout");
  EXPECT_EQ(f.adm->queued("m"), 0u);
}

TEST(AdmissionOnTheClock, WorkerMarkedUnreachableIsRoutableAgainWhenItsHoldEnds) {
  Fixture f(2, 4, 10s);
  f.dir.markUnreachable(f.worker(), f.clock.now(), 5s);
  EXPECT_FALSE(f.adm->tryAcquire("m", nullptr)) << "routable during its hold";
  std::optional<AdmissionResult> a;
  f.start(1, a);
  ASSERT_TRUE(a && a->rejection);
  EXPECT_EQ(a->rejection->code, "no_ready_worker");
  f.advance(5s);
  EXPECT_TRUE(f.adm->tryAcquire("m", nullptr)) << "still held after its hold ended";
}

// Issue 12: a stream continues only on a worker of the same model file.
TEST(Admission, TryAcquireWithADigestSkipsWorkersOfAnotherModelFile) {
  WorkerDirectory dir;
  qmesh::test::FakeRandom random{0.0};
  qmesh::test::FakeClock clock;
  StatusSnapshot s;
  s.workers.push_back(WorkerInfo{"m", "127.0.0.1", 9, 4, WorkerState::Ready, 1, false, 0, std::string(64, 'a')});
  s.workers.push_back(WorkerInfo{"m", "127.0.0.1", 10, 4, WorkerState::Ready, 2, false, 0, std::string(64, 'b')});
  dir.apply(s);
  auto adm = std::make_shared<Admission>(dir, random, clock, 4, 1s);
  const std::string b(64, 'b'), c(64, 'c');
  Lease l = adm->tryAcquire("m", nullptr, RequestTraits{0, false, &b});
  ASSERT_TRUE(l);
  EXPECT_EQ(l.worker()->info.port, 10);
  EXPECT_FALSE(adm->tryAcquire("m", nullptr, RequestTraits{0, false, &c}));
}
