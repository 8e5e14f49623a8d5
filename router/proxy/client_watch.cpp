#include "router/proxy/client_watch.h"

#include <sys/socket.h>

#include <cerrno>

namespace qmesh::router {

void ClientWatch::watch(tcp::socket& socket, std::shared_ptr<void> owner, std::function<void()> onGone) {
  onGone_ = std::move(onGone);
  watching_ = true;
  const uint64_t gen = ++generation_;
  socket.async_wait(tcp::socket::wait_read, [this, &socket, owner = std::move(owner), gen](error_code ec) {
    onReadable(ec, socket, gen);
  });
}

void ClientWatch::onReadable(const error_code& ec, tcp::socket& socket, uint64_t generation) {
  if (ec || !watching_ || generation != generation_) return;
  if (rule_ == Readable::MayBePipelined) {
    char c;
    const ssize_t n = ::recv(socket.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) return;
  }
  gone_ = true;
  watching_ = false;
  auto f = std::move(onGone_);
  if (f) f();
}

bool ClientWatch::stop() {
  if (!watching_) return false;
  watching_ = false;
  ++generation_;
  onGone_ = nullptr;
  return true;
}

void ClientWatch::closing() {
  if (!watching_ || !onGone_) return;
  gone_ = true;
  auto f = std::move(onGone_);
  f();
}

}  // namespace qmesh::router
