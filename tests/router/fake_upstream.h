// FakeUpstream: a stand-in for llama-server in router unit tests. It answers every request
// with a scripted response (status, SSE events at a fixed pace, pauses, hangs) on a thread
// per connection, and records when the router closed the connection mid-response, so a
// test can prove the upstream was let go within 100 ms of the client.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace qmesh::test {

struct FakeUpstreamScript {
  int status = 200;
  bool sse = true;                       // text/event-stream, chunked; else JSON with length
  int events = 5;                        // data events before "data: [DONE]"
  std::chrono::milliseconds interval{5};  // between events
  std::size_t eventBytes = 16;           // payload characters per event
  std::chrono::milliseconds pauseAfterFirst{0};  // an idle gap after the first event
  // An idle gap in the MIDDLE of the first event: its first half is sent (in a chunk of its
  // own), then nothing for this long, then the rest, as a worker stalling mid-write would.
  std::chrono::milliseconds pauseInsideFirst{0};
  bool hangAfterHeader = false;          // send the header, then nothing until closed
  // Die after this many events (>= 0): the connection is reset with neither [DONE] nor the
  // chunked terminator, as when the worker is killed mid-stream. -1: never.
  int dieAfterEvents = -1;
  // With dieAfterEvents: die only while this budget lasts, each death taking one; fakes that
  // share it die that many times between them (the first worker a stream lands on dies, the
  // one it continues on does not). None: every response dies.
  std::shared_ptr<std::atomic<int>> deathBudget;
  // Nothing at all for this long after the request, as a non-streaming completion thinks.
  std::chrono::milliseconds pauseBeforeHeader{0};
  std::string body = R"({"object":"chat.completion","choices":[]})";  // non-SSE body
  // HTTP keep-alive, as llama-server (cpp-httplib) does: "Connection: keep-alive" and the
  // next request read on the same connection. Off: one request per connection, then close.
  bool keepAlive = false;
  // With keepAlive: after answering this many requests on one connection, the next one is
  // read and the connection closed unanswered, as when the worker's keep-alive timeout fires
  // just as a reused connection carries a request. -1: never.
  int closeUnansweredAfter = -1;
  // With keepAlive: a connection idle this long is closed (cpp-httplib's keep-alive timeout).
  std::chrono::milliseconds idleTimeout{-1};
};

class FakeUpstream {
 public:
  // bindAddress: an IPv4 literal; loopback unless a test reaches it from another namespace.
  explicit FakeUpstream(FakeUpstreamScript script = {}, const std::string& bindAddress = "127.0.0.1");
  ~FakeUpstream();
  FakeUpstream(const FakeUpstream&) = delete;
  FakeUpstream& operator=(const FakeUpstream&) = delete;

  uint16_t port() const { return port_; }
  std::string url() const { return "http://" + host_ + ":" + std::to_string(port_); }
  int requests() const { return requests_.load(); }
  int open() const { return open_.load(); }  // connections currently open
  int connections() const { return connections_.load(); }  // connections accepted so far
  std::string lastRequest();
  // When the peer (the router) closed a connection before the response was complete.
  std::optional<std::chrono::steady_clock::time_point> lastPeerClose();
  void setScript(const FakeUpstreamScript& s);

  // One SSE data event of the shape llama-server sends.
  static std::string event(std::size_t payloadBytes, int index);

 private:
  void acceptLoop();
  void serve(int fd);
  // The next request on fd; false when the peer closed (or stop) before sending one.
  bool readRequest(int fd, std::string& req);
  // Answers one request as `s` says.
  enum class Answer { complete, broken, reset };  // reset: fd is closed already
  Answer answer(int fd, const FakeUpstreamScript& s);
  bool sendAll(int fd, const std::string& data);
  bool pause(int fd, std::chrono::milliseconds d);  // false when the peer closed meanwhile

  int listenFd_ = -1;
  uint16_t port_ = 0;
  std::string host_;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0}, open_{0}, connections_{0};
  std::mutex mu_;
  FakeUpstreamScript script_;
  std::string lastRequest_;
  std::optional<std::chrono::steady_clock::time_point> peerClose_;
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
  std::thread acceptThread_;
};

// What a client receives from the router for a stream the fake plays: every event, then [DONE].
inline std::string expectedStream(const FakeUpstreamScript& s) {
  std::string out;
  for (int i = 0; i < s.events; ++i) out += FakeUpstream::event(s.eventBytes, i);
  return out + "data: [DONE]\n\n";
}

}  // namespace qmesh::test
