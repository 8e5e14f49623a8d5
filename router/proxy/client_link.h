// The client side of a forwarded request, as the Forwarder and the relay see it: an
// HttpSession (a client's TCP connection) or a HopSession (another router, on the
// authenticated data-plane channel). Also what the SessionRegistry holds, so a graceful
// stop reaches both.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <type_traits>

#include "router/net.h"
#include "router/proxy/send_now.h"

namespace qmesh::router {

struct RouterContext;
struct RouterServices;

// One request's identity and outcome, for headers, logs and metrics.
struct RequestCtx {
  std::string id;        // the client's x-request-id, or a new one
  TimePoint start;
  std::string method;
  std::string path;
  std::string model;     // set when forwarded
  std::string route;     // x-qmesh-route value
  int status = 0;
  bool keepAlive = true;
  std::string fromPeer;  // the forwarding router's name, proved by the data-plane handshake
  uint64_t affinity = 0;
  unsigned version = 11;
  int64_t tokens = 0;      // SSE events relayed so far (about one per token), for the console
  bool cancelled = false;  // ended by the console's cancel button
};

class ClientLink {
 public:
  virtual ~ClientLink() = default;

  virtual net::any_io_executor executor() = 0;
  virtual RouterServices& services() = 0;
  // An OpenAI-shaped error answer; true when the connection can take another request.
  virtual net::awaitable<bool> writeError(RequestCtx& ctx, int status, std::string_view code,
                                          std::string_view message, int retryAfterSeconds = 0) = 0;
  // The response header, under router.write_timeout.
  virtual net::awaitable<error_code> writeHeader(http::response_serializer<http::empty_body>& sr) = 0;
  // Body bytes, in a chunk when `chunked`. No deadline of its own: the relay's ticker
  // watches for a client that stopped reading (a timer per event cost more than the relay).
  virtual net::awaitable<error_code> writeBody(const char* data, std::size_t n, bool chunked) = 0;
  virtual net::awaitable<error_code> writeLastChunk() = 0;

  // Notices the client hanging up while we are not reading from it (queued, or waiting
  // for the next event): onGone runs once, at once. stopWatching() before onGone's
  // captures die.
  virtual void watchClient(std::function<void()> onGone) = 0;
  virtual void stopWatching() = 0;
  virtual bool clientGone() const = 0;

  // Graceful stop: an idle connection closes now, a busy one after its response.
  virtual void closeIfIdle() = 0;
  // Grace is over: the client is told nothing more; a forward in progress sees "client gone".
  virtual void forceClose() = 0;
};

// The access log line and the request metrics, once the request is over.
void finishRequest(RouterContext& context, const RequestCtx& ctx);
// A fresh request id: 16 hex digits.
std::string newRequestId();

// writeBody for any stream. make_chunk never emits an empty chunk (which would end the
// body early); the Beast serializer's buffer_body would, unless data == nullptr for size 0.
// On a TCP socket the bytes go out at once when the kernel takes them (send_now.h).
template <class Stream>
net::awaitable<error_code> writeBodyTo(Stream& s, const char* data, std::size_t n, bool chunked) {
  error_code ec;
  if constexpr (std::is_same_v<Stream, tcp::socket>) {
    if (n == 0) co_return ec;
    char size[24];
    const std::size_t len = chunkSizeLine(n, size);
    const iovec chunk[3] = {{size, len},
                            {const_cast<char*>(data), n},
                            {const_cast<char*>("\r\n"), 2}};
    const iovec* iov = chunked ? chunk : &chunk[1];
    const std::size_t count = chunked ? 3 : 1, total = chunked ? len + n + 2 : n;
    const std::size_t sent = sendNow(s, iov, count, ec);
    if (ec || sent == total) co_return ec;
    co_return co_await sendRest(s, iov, count, sent);
  } else {
    if (chunked)
      co_await net::async_write(s, http::make_chunk(net::buffer(data, n)), awaitEc(ec));
    else
      co_await net::async_write(s, net::buffer(data, n), awaitEc(ec));
    co_return ec;
  }
}

template <class Stream>
net::awaitable<error_code> writeLastChunkTo(Stream& s) {
  if constexpr (std::is_same_v<Stream, tcp::socket>) {
    const iovec last{const_cast<char*>("0\r\n\r\n"), 5};
    error_code ec;
    const std::size_t sent = sendNow(s, &last, 1, ec);
    if (ec || sent == last.iov_len) co_return ec;
    co_return co_await sendRest(s, &last, 1, sent);
  } else {
    error_code ec;
    co_await net::async_write(s, http::make_chunk_last(), awaitEc(ec));
    co_return ec;
  }
}

}  // namespace qmesh::router
