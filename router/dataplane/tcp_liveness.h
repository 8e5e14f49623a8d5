// How a data-plane connection notices a peer that went silent: TCP keepalive plus
// TCP_USER_TIMEOUT, both derived from one limit (router.header_timeout).
//
// Why at the socket and not as a deadline on the hop: a non-streaming completion sends its
// header only after the whole generation, so no response deadline fits every request. What
// we want to bound is not how long the peer thinks but how long it has been unreachable.
// The kernel knows that: keepalive probes are answered by the peer's kernel whatever its
// router is doing, and TCP_USER_TIMEOUT aborts the connection (ETIMEDOUT, Asio's
// error::timed_out) once nothing has been acknowledged for that long, for unacknowledged
// data as well as unanswered probes (Linux lets it override TCP_KEEPCNT). A peer that
// only keeps a zero receive window still answers the window probes, so a slow reader is
// not mistaken for a dead one.
//
// Budget: the first probe after half the limit of silence, then probes every
// (limit - idle) / 3, so about three go unanswered before TCP_USER_TIMEOUT = limit ends it.
// The kernel takes whole seconds for the probe timings, at least 1, so a limit of 2 s gives
// probes at 1 s and 2 s. Cost: one 66-byte probe per idle half-limit per connection.
//
// Where: both ends of every data-plane channel (connectMeshChannel in mesh_upstream and the
// listener's accept); a pooled idle channel keeps its socket and so its options. Not on the
// loopback connections to llama-server: loopback cannot
// be partitioned, and a hung local process is the supervisor's health check's business.
#pragma once

#include <chrono>

#include "common/net.h"

namespace qmesh::dataplane {

struct TcpLiveness {
  std::chrono::seconds idle{0};      // TCP_KEEPIDLE
  std::chrono::seconds interval{0};  // TCP_KEEPINTVL
  int probes = 0;                    // TCP_KEEPCNT (TCP_USER_TIMEOUT decides first)
  std::chrono::milliseconds userTimeout{0};  // TCP_USER_TIMEOUT
};

// The settings under which a silent peer breaks the connection within about `limit`.
TcpLiveness tcpLivenessFor(std::chrono::milliseconds limit);

// Enables SO_KEEPALIVE and sets the four options on a connected socket.
error_code applyTcpLiveness(tcp::socket& socket, const TcpLiveness& settings);

}  // namespace qmesh::dataplane
