// One request to one llama-server worker over its own loopback connection — or to another
// node's router over the encrypted data plane (connectMesh) — read back piece by piece so
// the relay can pass every SSE event on the moment it arrives.
//
// Boost 1.74 traps handled here: a parser's body_limit(boost::none) does not lift the
// 8 MB default, so a huge explicit limit is set (streams run for hours); and the body is
// read into a caller's buffer (buffer_body) with async_read_some, never async_read, which
// would wait until the buffer is full and so batch events.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "router/dataplane/channel_pool.h"
#include "router/dataplane/secure_channel.h"
#include "router/membership/identity.h"
#include "router/net.h"

namespace qmesh::router {

class UpstreamClient {
 public:
  explicit UpstreamClient(net::any_io_executor ex);
  ~UpstreamClient();
  UpstreamClient(const UpstreamClient&) = delete;
  UpstreamClient& operator=(const UpstreamClient&) = delete;

  // TCP_NODELAY is set on success: Nagle plus the peer's delayed ACK would hold small
  // SSE events back by up to 40 ms.
  net::awaitable<error_code> connect(const std::string& host, uint16_t port, std::chrono::milliseconds timeout);
  // Another node's router: TCP to its data-plane address, then the authenticated handshake
  // that proves it is `peer`; everything after is sealed (see dataplane/secure_channel.h).
  // A peer silent for silentPeerLimit then breaks the channel (timed_out), whether a
  // request waits on it or it idles in the pool (dataplane/tcp_liveness.h).
  net::awaitable<error_code> connectMesh(const std::string& address, const membership::NodeId& peer,
                                         const membership::Identity& self, std::chrono::milliseconds timeout,
                                         std::chrono::milliseconds silentPeerLimit);
  // A pooled channel from an earlier exchange with the same peer (see ChannelPool).
  void adoptMesh(std::unique_ptr<dataplane::SecureChannel> channel) { secure_ = std::move(channel); }
  // Registers the mesh channel with `pool` while this client uses it, so that the peer's
  // death closes it (ChannelPool::abortInFlight). No-op without a mesh channel.
  void trackMesh(dataplane::ChannelPool& pool, const membership::NodeId& peer) {
    if (secure_) inFlight_ = pool.trackInFlight(peer, *secure_);
  }
  // The mesh channel, if the response was read to its end, the peer keeps the connection
  // alive and nothing more arrived: fit for the next request. Null otherwise.
  std::unique_ptr<dataplane::SecureChannel> releaseMesh();
  net::awaitable<error_code> send(http::request<http::span_body<const char>>& req);
  net::awaitable<error_code> readHeader();
  const http::response_header<>& header() const { return parser_.get().base(); }
  bool isEventStream() const;

  // The next piece of body in buf[0..n). n == 0 with no error is normal (chunk framing
  // parsed); done() tells the end. operation_aborted means cancelRead() was called.
  net::awaitable<std::pair<error_code, std::size_t>> readSome(char* buf, std::size_t size);
  bool done() const { return parser_.is_done(); }

  // Interrupts a pending read without losing data: the relay uses it to write a keepalive.
  void cancelRead();
  // Drops the connection at once: llama-server sees the close and frees the slot.
  void close();
  bool isOpen() const { return secure_ ? secure_->isOpen() : socket_.is_open(); }

 private:
  tcp::socket socket_;
  std::unique_ptr<dataplane::SecureChannel> secure_;
  dataplane::ChannelPool::InFlight inFlight_;  // after secure_: released before it is destroyed
  net::steady_timer connectTimer_;
  beast::flat_buffer buffer_;
  http::response_parser<http::buffer_body> parser_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // guards late timer handlers
};

}  // namespace qmesh::router
