// Body bytes to a client socket without an Asio operation when the kernel takes them at
// once, which it does for nearly every SSE event (a few hundred bytes into an empty send
// buffer). Why: an async_write that completes immediately still costs a composed
// operation, a posted completion, a scheduler round with an extra epoll_wait(0) and a
// coroutine resumption; per relayed event that was more than the sendmsg itself
// (strace and callgrind in bench/RESULTS.md). nginx writes the same way.
#pragma once

#include <sys/uio.h>

#include <cstddef>

#include "router/net.h"

namespace qmesh::router {

// "<n in hex>\r\n" into out (at least 20 bytes); its length. snprintf cost more than the
// rest of the write path together.
inline std::size_t chunkSizeLine(std::size_t n, char* out) {
  char digits[16];
  std::size_t d = 0;
  do {
    digits[d++] = "0123456789abcdef"[n & 0xf];
    n >>= 4;
  } while (n != 0);
  std::size_t len = 0;
  while (d > 0) out[len++] = digits[--d];
  out[len++] = '\r';
  out[len++] = '\n';
  return len;
}

// One non-blocking sendmsg of iov[0..count): the bytes the kernel took (0 when its buffer
// is full). A real error (reset, broken pipe) is set in ec. Never raises SIGPIPE.
std::size_t sendNow(tcp::socket& s, const iovec* iov, std::size_t count, error_code& ec);

// The part of iov[0..count) after its first `sent` bytes (what sendNow left, when the
// send buffer was full), with an ordinary async_write: a slow client is waited for, not
// spun on.
net::awaitable<error_code> sendRest(tcp::socket& s, const iovec* iov, std::size_t count, std::size_t sent);

}  // namespace qmesh::router
