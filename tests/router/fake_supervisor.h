// FakeSupervisor: a stand-in for qmesh-supervisor's control API in router tests. It answers
// GET /status (a `?after=N` long poll is held until the models change, at most a second,
// as the real one holds it up to 25 s) and POST /children/NAME/ACTION as the test says,
// and records every request. close() stops answering at once (held polls are cut: the
// supervisor is lost to the router) and listen() takes the same port again (it is back).
// A thread per connection: the router sends one request per connection.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace qmesh::test {

class FakeSupervisor {
 public:
  FakeSupervisor();  // listens on a free loopback port
  ~FakeSupervisor();
  FakeSupervisor(const FakeSupervisor&) = delete;
  FakeSupervisor& operator=(const FakeSupervisor&) = delete;

  uint16_t port() const { return port_; }
  // The "models" array of /status, as JSON text; a new generation, so held polls answer.
  void setModels(const std::string& modelsJson);
  // What every POST /children/NAME/ACTION answers (default 202 {"ok":true}).
  void setActionReply(int status, const std::string& body);

  struct Call {
    std::string method, target, authorization;
  };
  std::vector<Call> calls();  // POSTs only (the router polls /status all the time)

  void close();
  void listen();

 private:
  void acceptLoop();
  void serve(int fd);
  void answer(int fd);  // one request on fd
  std::string statusBody();

  uint16_t port_ = 0;
  int listenFd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread acceptThread_;
  std::mutex mu_;
  std::condition_variable changed_;
  uint64_t generation_ = 1;
  std::string models_ = "[]";
  int actionStatus_ = 202;
  std::string actionBody_ = R"({"ok":true})";
  std::vector<Call> calls_;
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
};

}  // namespace qmesh::test
