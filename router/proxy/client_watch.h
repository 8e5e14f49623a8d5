// The "client gone" half of a ClientLink, shared by HttpSession and HopSession: notices the
// client hanging up while nothing reads from it (queued in admission, or between two events
// of a response), and lets a forced close count as a hang-up.
//
// A watch is one wait for readability on the client's socket. Readable while we read
// nothing: on a client connection EOF or a reset means gone, while bytes waiting are a
// pipelined request, left for the next read (Readable::MayBePipelined; no new wait starts:
// we cannot tell more); on a mesh hop the sender writes nothing while a response is
// on its way, so readable means closed (Readable::MeansGone). Each watch has a generation,
// so a wait that stop() ended cannot fire later, whatever order the cancellation lands in.
// Single-threaded, on the session's executor.
#pragma once

#include <functional>
#include <memory>

#include "router/net.h"

namespace qmesh::router {

class ClientWatch {
 public:
  enum class Readable { MayBePipelined, MeansGone };
  explicit ClientWatch(Readable rule) : rule_(rule) {}

  // onGone runs once, at once, when the client goes. `owner` (the session) is kept alive by
  // the pending wait.
  void watch(tcp::socket& socket, std::shared_ptr<void> owner, std::function<void()> onGone);
  // Ends the watch; true when one was on (the caller then cancels the pending wait, which
  // only the watch has pending: the response is complete). onGone's captures may die after.
  bool stop();
  // A forced close: a watched client counts as gone, and onGone runs now.
  void closing();
  bool clientGone() const { return gone_; }

 private:
  void onReadable(const error_code& ec, tcp::socket& socket, uint64_t generation);

  Readable rule_;
  bool gone_ = false;
  bool watching_ = false;
  uint64_t generation_ = 0;
  std::function<void()> onGone_;
};

}  // namespace qmesh::router
