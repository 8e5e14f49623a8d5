#include "router/proxy/send_now.h"

#include <sys/socket.h>

#include <cerrno>
#include <vector>

namespace qmesh::router {

std::size_t sendNow(tcp::socket& s, const iovec* iov, std::size_t count, error_code& ec) {
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = count;
  for (;;) {
    const ssize_t n = ::sendmsg(s.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) ec = error_code(errno, net::error::get_system_category());
    return 0;
  }
}

net::awaitable<error_code> sendRest(tcp::socket& s, const iovec* iov, std::size_t count, std::size_t sent) {
  std::vector<net::const_buffer> rest;
  for (std::size_t i = 0; i < count; ++i) {
    if (sent >= iov[i].iov_len) {
      sent -= iov[i].iov_len;
      continue;
    }
    rest.emplace_back(static_cast<const char*>(iov[i].iov_base) + sent, iov[i].iov_len - sent);
    sent = 0;
  }
  error_code ec;
  if (!rest.empty()) co_await net::async_write(s, rest, awaitEc(ec));
  co_return ec;
}

}  // namespace qmesh::router
