// An /api/events reader on a plain socket for router tests: the test decides when (and
// whether) it reads, and sees each event de-chunked, split and its data parsed as JSON.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qmesh::test {

struct SseEvent {
  std::string id, type;
  nlohmann::json data;
};

class EventReader {
 public:
  // rcvbuf > 0: SO_RCVBUF of the socket, for a reader whose buffer fills quickly. maxseg > 0:
  // TCP_MAXSEG, which also keeps the router's send buffer small (see event_stream_test.cpp).
  EventReader(uint16_t port, const std::string& lastEventId = "", int rcvbuf = 0, int maxseg = 0);
  ~EventReader();
  EventReader(const EventReader&) = delete;
  EventReader& operator=(const EventReader&) = delete;

  // Reads until an event of `type` arrived (returns it) or the deadline.
  std::optional<SseEvent> waitFor(const std::string& type, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Reads until the router closes the connection; true when it did within `timeout`.
  bool closedWithin(std::chrono::milliseconds timeout);
  const std::vector<SseEvent>& seen() const { return seen_; }
  const std::string& head() const { return head_; }

 private:
  void readSome(std::chrono::milliseconds timeout);
  void parse();  // de-chunks (the stream is chunked) and splits into events

  int fd_ = -1;
  bool closed_ = false;
  std::string raw_, head_, body_;
  std::vector<SseEvent> events_, seen_;
};

}  // namespace qmesh::test
