// One HTTP/1.1 exchange with an upstream over any Asio stream (a loopback TCP socket to a
// llama-server, or a SecureChannel to another node's router): write the request, read the
// response header, then the body piece by piece so the relay can pass every SSE event on
// the moment it arrives. The connectors (local_upstream.h, mesh_upstream.h) own the stream
// and its connection policy; this owns only the parse.
//
// Boost 1.74 traps handled here: a parser's body_limit(boost::none) does not lift the
// 8 MB default, so a huge explicit limit is set (streams run for hours); and the body is
// read into a caller's buffer (buffer_body) with async_read_some, never async_read, which
// would wait until the buffer is full and so batch events.
#pragma once

#include <utility>

#include "router/net.h"

namespace qmesh::router {

using UpstreamRequest = http::request<http::span_body<const char>>;

template <class Stream>
class UpstreamClient {
 public:
  // `stream` must outlive this client.
  explicit UpstreamClient(Stream& stream);

  net::awaitable<error_code> send(UpstreamRequest& req);
  // Some byte of the request was written: it may have reached the upstream, so a failure
  // after this is no longer "nothing happened" (see Forwarder::tryWorker).
  bool sentAny() const { return sent_ > 0; }
  net::awaitable<error_code> readHeader();
  const http::response_header<>& header() const { return parser_.get().base(); }

  // The next body bytes in buf[0..n): everything complete that has arrived, at least one
  // byte unless the response is done() or an error is returned. operation_aborted means
  // the read was cancelled.
  net::awaitable<std::pair<error_code, std::size_t>> readSome(char* buf, std::size_t size);
  bool done() const { return parser_.is_done(); }
  // The response was read to its end, the upstream keeps the connection alive and nothing
  // more arrived: the connection may carry the next request.
  bool reusable() const { return parser_.is_done() && parser_.keep_alive() && buffer_.size() == 0; }

 private:
  void parseBuffered(error_code& ec);

  Stream& stream_;
  std::size_t sent_ = 0;
  beast::flat_buffer buffer_;
  http::response_parser<http::buffer_body> parser_;
};

}  // namespace qmesh::router
