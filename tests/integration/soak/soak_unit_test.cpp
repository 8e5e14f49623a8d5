// The chaos soak's own logic, as pure functions: how a request's end is classified (the
// soak's first invariant rests on it) and that a seed fixes the fault schedule.
#include <gtest/gtest.h>

#include "tests/integration/soak/soak_load.h"
#include "tests/integration/soak/soak_schedule.h"

using namespace qmesh::test;
using namespace qmesh::test::soak;
using namespace std::chrono;

namespace {

HttpResponse sse(std::string body, std::string error = "") {
  HttpResponse r;
  r.status = 200;
  r.headers["content-type"] = "text/event-stream";
  r.body = std::move(body);
  r.error = std::move(error);
  return r;
}

const std::string kEvent = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n";

}  // namespace

TEST(SoakClassify, StreamEndingWithDoneIsCompleted) {
  EXPECT_EQ(classify(sse(kEvent + ": keepalive\n\n" + kEvent + "data: [DONE]\n\n"), false).outcome, Outcome::Completed);
}

TEST(SoakClassify, StreamThatBreaksWithoutAnErrorEventIsLostUnlessItsRouterWasKilled) {
  const auto broken = sse(kEvent, "Transferred a partial file");
  EXPECT_EQ(classify(broken, false).outcome, Outcome::Lost);
  EXPECT_EQ(classify(broken, true).outcome, Outcome::CutByRouterKill);
  // Ending "cleanly" without [DONE] is a short answer passed off as complete: lost either way.
  EXPECT_EQ(classify(sse(kEvent), true).outcome, Outcome::Lost);
}

TEST(SoakClassify, InBandErrorEventIsACleanErrorEvenIfTheBodyThenBreaks) {
  const std::string error = "data: {\"error\":{\"message\":\"worker died\",\"type\":\"server_error\"}}\n\n";
  EXPECT_EQ(classify(sse(kEvent + error, "Transferred a partial file"), false).outcome, Outcome::InBandError);
  EXPECT_EQ(classify(sse(kEvent + "data: {\"error\":\"not an object\"}\n\n", "partial"), false).outcome, Outcome::Lost);
}

TEST(SoakClassify, HttpErrorNeedsAnOpenAiErrorBody) {
  HttpResponse r;
  r.status = 503;
  r.body = R"({"error":{"message":"no ready worker","type":"server_error","code":"no_ready_worker"}})";
  EXPECT_EQ(classify(r, false).outcome, Outcome::HttpError);
  r.body = "<html>Service Unavailable</html>";
  EXPECT_EQ(classify(r, false).outcome, Outcome::Lost);
}

TEST(SoakClassify, DeadlineIsAHangWhateverArrivedBefore) {
  EXPECT_EQ(classify(sse(kEvent, "Timeout was reached"), true).outcome, Outcome::Hung);
  HttpResponse none;
  none.error = "Timeout was reached";
  EXPECT_EQ(classify(none, false).outcome, Outcome::Hung);
  none.error = "Couldn't connect to server";
  EXPECT_EQ(classify(none, false).outcome, Outcome::Lost);
  EXPECT_EQ(classify(none, true).outcome, Outcome::CutByRouterKill);
}

TEST(SoakSchedule, SameSeedSameScheduleAndFaultsNeverOverlapOrEnterTheQuietTail) {
  ScheduleOptions o;
  o.seed = 42;
  o.duration = seconds(600);
  const auto a = makeSchedule(o), b = makeSchedule(o);
  ASSERT_EQ(describe(a), describe(b));
  ASSERT_GT(a.size(), 50u);
  o.seed = 43;
  EXPECT_NE(describe(makeSchedule(o)), describe(a));
  int kinds[kFaultKinds] = {};
  for (std::size_t i = 0; i < a.size(); ++i) {
    ++kinds[static_cast<int>(a[i].kind)];
    EXPECT_LE(a[i].healedAt(), o.duration - o.quietTail);
    if (i) {
      EXPECT_GE(a[i].at, a[i - 1].healedAt() + o.minGap);
    }
  }
  for (int k = 0; k < kFaultKinds; ++k) EXPECT_GT(kinds[k], 0) << toString(static_cast<FaultKind>(k));
  EXPECT_EQ(a.back().kind, FaultKind::KillRouter) << "the last fault is one every node must recover from";
  o.partitions = false;
  for (const auto& f : makeSchedule(o)) EXPECT_NE(f.kind, FaultKind::PartitionNode);
}
