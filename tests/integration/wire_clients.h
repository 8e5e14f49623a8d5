// Hostile TCP clients for the over-the-wire tests: a flood of idle connections and a
// slowloris, both from many loopback source addresses (all of 127/8 is loopback on Linux),
// so per-source caps see them as the many clients they would be in the wild.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace qmesh::test {

// 127.0.0.(2 + i % sources): never 127.0.0.1, which the nodes use among themselves.
std::string floodSourceAddress(int i, int sources);

// Raises this process's RLIMIT_NOFILE soft limit to the hard one; returns the new soft limit.
uint64_t raiseOwnFdLimit();

// `count` connections to 127.0.0.1:port opened at once (non-blocking connects), then held,
// sending nothing, until destruction.
class ConnectionFlood {
 public:
  ConnectionFlood(uint16_t port, int count, int sources = 64);
  ~ConnectionFlood();
  ConnectionFlood(const ConnectionFlood&) = delete;
  ConnectionFlood& operator=(const ConnectionFlood&) = delete;
  // Waits until every connect has finished; how many were established (the server may have
  // closed some since: a connection it accepted and then closed counts).
  int waitEstablished(std::chrono::milliseconds timeout);
  // How many the server has closed so far (EOF or reset).
  int closedByServer();

 private:
  std::vector<int> fds_;
  std::vector<bool> closed_;
};

struct DribbleResult {
  int connections = 0;
  int closedByServer = 0;
  // Connect to the server's close, for the slowest of the closed connections.
  std::chrono::milliseconds slowestClose{0};
  uint64_t bytesSent = 0;
};

// Slowloris: opens `count` connections and on each sends `payload` one byte every `interval`,
// until the server closes every one of them or `timeout` passes. Blocks the calling thread.
DribbleResult dribble(uint16_t port, int count, const std::string& payload, std::chrono::milliseconds interval,
                      std::chrono::milliseconds timeout, int sources = 64);

struct UploadResult {
  std::string response;  // what the server answered before we stopped
  uint64_t bytesSent = 0;
};

// Sends `head`, then `chunk` again and again (at most `maxBytes` in all), stopping as soon as
// the server answers anything or closes: how much an oversize upload costs before its answer.
UploadResult uploadUntilAnswered(uint16_t port, const std::string& head, const std::string& chunk,
                                 uint64_t maxBytes, std::chrono::milliseconds timeout);

}  // namespace qmesh::test
