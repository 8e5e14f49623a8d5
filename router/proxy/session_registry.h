// The live sessions of one router: client connections (HttpSession) and mesh hops
// (HopSession). Each holds a Membership for its lifetime. The registry does what needs
// every session at once:
//   - the connection cap (router.max_connections, lowered to what RLIMIT_NOFILE allows:
//     connection_cap.h). Client connections that are idle (waiting for a request header: a
//     new connection or a kept-alive one) queue here, the longest-waiting first. At the cap
//     the listener closes the front one to admit a newcomer, as nginx reuses its "reusable"
//     connections: idle sockets (a flood of them, or slowloris) cannot lock clients out; only
//     busy ones earn a 503. Hops count against the cap but are never evicted.
//   - the graceful stop: drain() closes idle sessions now and the others after their
//     response, and calls back when the last one is gone; forceCloseAll() when grace is over.
// Single-threaded: only the io_context thread touches it.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <set>

namespace qmesh::router {

class ClientLink;

class SessionRegistry {
 public:
  enum class Kind { Client, Hop };

  class Membership {
   public:
    Membership(SessionRegistry& registry, ClientLink& session, Kind kind);
    // Leaves (unless evicted); the last session to leave while draining ends the drain.
    ~Membership();
    Membership(const Membership&) = delete;
    Membership& operator=(const Membership&) = delete;

    // Idle: waiting for the next request. An idle client connection may be evicted.
    void setIdle(bool idle);
    bool idle() const { return idle_; }

   private:
    friend class SessionRegistry;
    void leave();

    SessionRegistry& registry_;
    ClientLink& session_;
    Kind kind_;
    bool idle_ = false;
    bool member_ = true;                   // false once evicted
    std::list<Membership*>::iterator idlePos_;  // valid while idle_ and a Client
  };

  explicit SessionRegistry(int64_t maxConnections = 1024) : maxConnections_(maxConnections) {}

  void setMaxConnections(int64_t n) { maxConnections_ = n; }
  bool atCapacity() const { return static_cast<int64_t>(members_.size()) >= maxConnections_; }
  // Closes the longest-idle client connection, which stops counting at once; false when
  // every one is busy.
  bool evictLongestIdle();

  std::size_t size() const { return members_.size(); }
  bool empty() const { return members_.empty(); }
  int64_t hopSessions() const { return hopSessions_; }

  // Graceful stop: no new requests on kept-alive connections. Idle sessions close now, busy
  // ones after their response; `onAllClosed` runs when the last one has gone.
  void drain(std::function<void()> onAllClosed);
  bool draining() const { return draining_; }
  // Grace is over: every session is cut; a forward in progress sees its client gone.
  void forceCloseAll();
  // The owner is going away: nobody to call back any more.
  void forgetOnAllClosed() { onAllClosed_ = nullptr; }

  // Connections the listener is answering 503 (it bounds them).
  int turningAway = 0;

 private:
  int64_t maxConnections_;
  std::set<Membership*> members_;
  std::list<Membership*> idleClients_;
  int64_t hopSessions_ = 0;
  bool draining_ = false;
  std::function<void()> onAllClosed_;
};

}  // namespace qmesh::router
