// GET /api/events over real sockets, against an in-process router and a FakeUpstream:
// request summaries as they happen, and replay after Last-Event-ID. (A reader that stops
// reading is cut off by the bus: event_bus_test.cpp; over loopback the kernel buffers
// megabytes first, too many requests for a unit test.)
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>

#include "tests/router/fake_upstream.h"
#include "tests/router/router_harness.h"
#include "tests/support/http_client.h"
#include "tests/support/test_env.h"

using namespace qmesh;
using namespace qmesh::test;
using namespace std::chrono;
using nlohmann::json;

namespace {


struct SseEvent {
  std::string id, type;
  json data;
};

// An /api/events reader on a plain socket: the test decides when (and whether) it reads.
class EventReader {
 public:
  EventReader(uint16_t port, const std::string& lastEventId = "", int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    std::string req = "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (!lastEventId.empty()) req += "Last-Event-ID: " + lastEventId + "\r\n";
    req += "\r\n";
    (void)!::write(fd_, req.data(), req.size());
  }
  ~EventReader() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Reads until an event of `type` arrived (returns it) or the deadline.
  std::optional<SseEvent> waitFor(const std::string& type, milliseconds timeout = seconds(5)) {
    const auto deadline = steady_clock::now() + timeout;
    for (;;) {
      while (!events_.empty()) {
        SseEvent e = std::move(events_.front());
        events_.erase(events_.begin());
        seen_.push_back(e);
        if (e.type == type) return e;
      }
      if (closed_ || steady_clock::now() >= deadline) return std::nullopt;
      readSome(duration_cast<milliseconds>(deadline - steady_clock::now()));
    }
  }
  // Reads until the router closes the connection; true when it did within `timeout`.
  bool closedWithin(milliseconds timeout) {
    const auto deadline = steady_clock::now() + timeout;
    while (!closed_ && steady_clock::now() < deadline) readSome(duration_cast<milliseconds>(deadline - steady_clock::now()));
    return closed_;
  }
  const std::vector<SseEvent>& seen() const { return seen_; }
  const std::string& head() const { return head_; }

 private:
  void readSome(milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(timeout.count(), 1))) <= 0) return;
    char buf[65536];
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) {
      closed_ = true;
      return;
    }
    raw_.append(buf, static_cast<std::size_t>(n));
    parse();
  }
  // De-chunks (the stream is chunked) and splits into events.
  void parse() {
    if (head_.empty()) {
      const auto end = raw_.find("\r\n\r\n");
      if (end == std::string::npos) return;
      head_ = raw_.substr(0, end + 4);
      raw_.erase(0, end + 4);
    }
    for (;;) {
      const auto crlf = raw_.find("\r\n");
      if (crlf == std::string::npos) return;
      const std::size_t size = std::stoul(raw_.substr(0, crlf), nullptr, 16);
      if (raw_.size() < crlf + 2 + size + 2) return;
      body_ += raw_.substr(crlf + 2, size);
      raw_.erase(0, crlf + 2 + size + 2);
      for (std::size_t cut; (cut = body_.find("\n\n")) != std::string::npos;) {
        std::string block = body_.substr(0, cut);
        body_.erase(0, cut + 2);
        SseEvent e;
        std::istringstream lines(block);
        for (std::string line; std::getline(lines, line);) {
          if (line.rfind("id: ", 0) == 0) e.id = line.substr(4);
          if (line.rfind("event: ", 0) == 0) e.type = line.substr(7);
          if (line.rfind("data: ", 0) == 0) e.data = json::parse(line.substr(6), nullptr, false);
        }
        if (!e.type.empty()) events_.push_back(std::move(e));
      }
    }
  }

  int fd_ = -1;
  bool closed_ = false;
  std::string raw_, head_, body_;
  std::vector<SseEvent> events_, seen_;
};

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
