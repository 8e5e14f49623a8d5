#include "router/proxy/upstream_client.h"

#include <limits>

#include "router/dataplane/secure_channel.h"

namespace qmesh::router {

template <class Stream>
UpstreamClient<Stream>::UpstreamClient(Stream& stream) : stream_(stream) {
  parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
  parser_.header_limit(64 * 1024);
  // Beast grows a flat_buffer from 512 bytes; start bigger so one recv takes a whole burst.
  buffer_.reserve(16 * 1024);
}

template <class Stream>
net::awaitable<error_code> UpstreamClient<Stream>::send(UpstreamRequest& req) {
  error_code ec;
  sent_ += co_await http::async_write(stream_, req, awaitEc(ec));
  co_return ec;
}

template <class Stream>
net::awaitable<error_code> UpstreamClient<Stream>::readHeader() {
  error_code ec;
  co_await http::async_read_header(stream_, buffer_, parser_, awaitEc(ec));
  co_return ec;
}

// Parses what is already buffered into the caller's body buffer, as many pieces as are
// complete (chunk headers, data, the terminator). Why here and not in Beast's
// async_read_some: that completes work it needed no I/O for through a posted handler, and a
// chunk's header and data usually arrive in one recv but parse as two pieces, so every
// relayed event paid a second call and a scheduler round (an extra epoll_wait) for it.
template <class Stream>
void UpstreamClient<Stream>::parseBuffered(error_code& ec) {
  auto& body = parser_.get().body();
  while (!parser_.is_done() && buffer_.size() > 0 && body.size > 0) {
    const std::size_t used = parser_.put(buffer_.data(), ec);
    buffer_.consume(used);
    if (ec == http::error::need_more) ec = {};
    if (ec || used == 0) return;
  }
}

template <class Stream>
net::awaitable<std::pair<error_code, std::size_t>> UpstreamClient<Stream>::readSome(char* buf, std::size_t size) {
  auto& body = parser_.get().body();
  body.data = buf;
  body.size = size;
  error_code ec;
  parseBuffered(ec);
  while (!ec && body.size == size && !parser_.is_done()) {
    co_await http::async_read_some(stream_, buffer_, parser_, awaitEc(ec));
    if (ec == http::error::need_buffer) ec = {};  // buf is full: not an error, just hand it on
    if (!ec) parseBuffered(ec);
  }
  if (ec == http::error::need_buffer) ec = {};
  const std::size_t n = size - body.size;
  body.data = nullptr;
  body.size = 0;
  co_return std::make_pair(ec, n);
}

template class UpstreamClient<tcp::socket>;
template class UpstreamClient<dataplane::SecureChannel>;

}  // namespace qmesh::router
