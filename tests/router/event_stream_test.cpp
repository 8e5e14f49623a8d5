// GET /api/events over real sockets, against an in-process router and a FakeUpstream:
// request summaries as they happen, replay after Last-Event-ID, and readers that stop
// reading: cut off by the write timeout, or by the bus once 512 events wait for them.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <functional>

#include "tests/router/event_reader.h"
#include "tests/router/fake_upstream.h"
#include "tests/router/router_harness.h"
#include "tests/support/http_client.h"
#include "tests/support/test_env.h"

using namespace qmesh;
using namespace qmesh::test;
using namespace std::chrono;
using nlohmann::json;

namespace {

FakeUpstreamScript quickJsonAnswer() {
  FakeUpstreamScript s;
  s.sse = false;
  s.body = R"({"ok":true})";
  return s;
}

// Requests (two events each) in batches of `batch`, until `done` or `maxRequests`.
bool requestsUntil(const RouterHarness& r, int batch, int maxRequests, const std::function<bool()>& done) {
  for (int sent = 0; sent < maxRequests; sent += batch) {
    for (int i = 0; i < batch; ++i) httpPostJson(r.url("/v1/chat/completions"), kChat);
    if (done()) return true;
  }
  return done();
}

json consoleSnapshot(const RouterHarness& r) {
  const auto res = httpGet(r.url("/api/console"));
  json j = json::parse(res.body, nullptr, false);
  if (!j.is_object()) ADD_FAILURE() << res.status << " " << res.error << " " << res.body;
  return j;
}

}  // namespace

TEST(EventStream, AnswersWithAnEventStreamThatNeverCaches) {
  FakeUpstream up;
  RouterHarness r(RouterHarness::config({{"m", "127.0.0.1", up.port(), 4}}));
  EventReader reader(r.port());
  ASSERT_FALSE(reader.waitFor("none", milliseconds(300)));  // reads the header meanwhile
  EXPECT_NE(reader.head().find("HTTP/1.1 200"), std::string::npos) << reader.head();
  EXPECT_NE(reader.head().find("text/event-stream"), std::string::npos) << reader.head();
  EXPECT_NE(reader.head().find("no-cache"), std::string::npos) << reader.head();
}

TEST(EventStream, PublishesRequestStartedAndFinishedWithIdModelRouteTokensDurationAndStatus) {
  FakeUpstreamScript script;
  script.events = 7;
  FakeUpstream up(script);
  RouterHarness r(RouterHarness::config({{"m", "127.0.0.1", up.port(), 4}}));
  EventReader reader(r.port());
  ASSERT_TRUE(waitUntil([&] { return consoleSnapshot(r)["events"]["subscribers"] == 1; }, seconds(5)));
  const auto res = httpPostStream(r.url("/v1/chat/completions"), kStreamingChat, [](const std::string&) { return true; },
                                  {{"x-request-id", "req-events-1"}});
  ASSERT_EQ(res.status, 200);
  const auto started = reader.waitFor("request_started");
  ASSERT_TRUE(started);
  EXPECT_EQ(started->data["request_id"], "req-events-1");
  EXPECT_EQ(started->data["model"], "m");
  EXPECT_EQ(started->data["path"], "/v1/chat/completions");
  const auto finished = reader.waitFor("request_finished");
  ASSERT_TRUE(finished);
  const json& f = finished->data;
  EXPECT_EQ(f["request_id"], "req-events-1");
  EXPECT_EQ(f["model"], "m");
  EXPECT_EQ(f["status"], 200);
  EXPECT_EQ(f["tokens"], 8) << "7 events and [DONE]";
  EXPECT_GE(f["duration_ms"].get<int64_t>(), 0);
  EXPECT_EQ(f["route"], res.headers.at("x-qmesh-route"));
  EXPECT_EQ(f["id"].dump(), finished->id);
  EXPECT_GT(std::stoull(finished->id), std::stoull(started->id));
}

TEST(EventStream, ReconnectWithLastEventIdReplaysWhatWasMissedInOrder) {
  FakeUpstream up;
  RouterHarness r(RouterHarness::config({{"m", "127.0.0.1", up.port(), 4}}));
  std::string firstId;
  {
    EventReader reader(r.port());
    ASSERT_TRUE(waitUntil([&] { return consoleSnapshot(r)["events"]["subscribers"] == 1; }, seconds(5)));
    httpPostStream(r.url("/v1/chat/completions"), kStreamingChat, [](const std::string&) { return true; });
    const auto first = reader.waitFor("request_started");
    ASSERT_TRUE(first);
    firstId = first->id;
  }
  // Missed while disconnected: the first request's end, then a second request.
  ASSERT_TRUE(waitUntil([&] { return consoleSnapshot(r)["events"]["subscribers"] == 0; }, seconds(5)));
  httpPostStream(r.url("/v1/chat/completions"), kStreamingChat, [](const std::string&) { return true; },
                 {{"x-request-id", "second"}});
  EventReader again(r.port(), firstId);
  const auto last = again.waitFor("request_finished", seconds(5));
  ASSERT_TRUE(last);
  ASSERT_TRUE(again.waitFor("request_finished", seconds(5)));
  std::vector<std::string> types;
  for (const auto& e : again.seen()) types.push_back(e.type);
  EXPECT_EQ(types, (std::vector<std::string>{"request_finished", "request_started", "request_finished"}));
  EXPECT_EQ(again.seen().back().data["request_id"], "second");
  EXPECT_EQ(std::stoull(again.seen().front().id), std::stoull(firstId) + 1);
}

TEST(EventStream, LastEventIdOlderThanTheHistoryStartsWithAReplayGap) {
  FakeUpstream up;
  RouterHarness r(RouterHarness::config({{"m", "127.0.0.1", up.port(), 4}}));
  EventReader reader(r.port(), "1");
  const auto gap = reader.waitFor("replay_gap");
  ASSERT_TRUE(gap);
  EXPECT_EQ(gap->id, "") << "no id: the reader's Last-Event-ID stays where it was";
  EXPECT_EQ(gap->data["last_event_id"], 1);
}

// The reader's socket takes nothing (never read): once the router's send buffer is full, a
// write waits, and after write_timeout the reader is cut.
//
// A small SO_RCVBUF alone is not enough for that: on loopback Linux grows the router's send
// buffer to tcp_wmem's maximum (4 MB here; it took ~3 MB, ~10,000 events, before a write
// waited), so a test sending a few thousand requests never saw the cut. The kernel sizes
// that buffer from the segment size (2 x cwnd x MSS), so the reader also sets TCP_MAXSEG to
// 536: the router's socket then takes ~130 KB (a few hundred events). Requests go in batches
// of 20 (40 events, far below the bus's 512), each followed by a wait longer than the
// timeout, so a stuck write is cut by the timeout, never by the queue.
TEST(EventStream, ReaderWhoseSocketTakesNothingIsCutAfterTheWriteTimeoutAndCounted) {
  FakeUpstream up(quickJsonAnswer());
  auto cfg = RouterHarness::config({workerOn(up.port())});
  cfg.write_timeout = milliseconds(200);
  RouterHarness r(cfg);
  EventReader stuck(r.port(), "", 4096, 536);
  ASSERT_TRUE(waitUntil([&] { return consoleSnapshot(r)["events"]["subscribers"] == 1; }, seconds(5)));
  const auto cut = [&] {
    const json e = consoleSnapshot(r)["events"];
    return e["cut_by_write_timeout"] != 0 || e["cut_by_queue"] != 0;
  };
  ASSERT_TRUE(requestsUntil(r, 20, 800, [&] { return waitUntil(cut, milliseconds(600), milliseconds(50)); }))
      << consoleSnapshot(r)["events"].dump();
  const json events = consoleSnapshot(r)["events"];
  EXPECT_EQ(events["cut_by_write_timeout"], 1) << events.dump();
  EXPECT_EQ(events["cut_by_queue"], 0) << "cut by the write timeout, not by the bus: " << events.dump();
  EXPECT_EQ(events["slow_readers_dropped"], 1) << events.dump();
  EXPECT_TRUE(stuck.closedWithin(seconds(5))) << "the router closed the connection";
  EXPECT_TRUE(waitUntil([&] { return consoleSnapshot(r)["events"]["subscribers"] == 0; }, seconds(5)));
}

// The same reader (its small TCP_MAXSEG keeps the router's send buffer small: above): the
// bus cuts it once 512 events wait in its queue, and the stream's socket is closed under the
// stuck write (the default write timeout, 2 minutes, has no part in it).
TEST(EventStream, ReaderThatFallsMaxQueuedEventsBehindIsCutAndItsConnectionClosed) {
  FakeUpstream up(quickJsonAnswer());
  RouterHarness r(RouterHarness::config({workerOn(up.port())}));
  EventReader stuck(r.port(), "", 4096, 536);
  ASSERT_TRUE(waitUntil([&] { return consoleSnapshot(r)["events"]["subscribers"] == 1; }, seconds(5)));
  ASSERT_TRUE(requestsUntil(r, 50, 5000, [&] { return consoleSnapshot(r)["events"]["cut_by_queue"] == 1; }))
      << consoleSnapshot(r)["events"].dump();
  EXPECT_EQ(consoleSnapshot(r)["events"]["cut_by_write_timeout"], 0);
  EXPECT_TRUE(stuck.closedWithin(seconds(5))) << "the router closed the connection at once, not after write_timeout";
  EXPECT_TRUE(waitUntil([&] { return consoleSnapshot(r)["events"]["subscribers"] == 0; }, seconds(5)));
}
