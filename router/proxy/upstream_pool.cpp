#include "router/proxy/upstream_pool.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace qmesh::router {

namespace {

void closeNow(tcp::socket& s) {
  error_code ignored;
  s.close(ignored);
}

}  // namespace

bool UpstreamPool::quiescent(tcp::socket& s) {
  if (!s.is_open()) return false;
  char c;
  const ssize_t n = ::recv(s.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  // 0: EOF; > 0: bytes nobody asked for (the framing is lost); < 0 other than EAGAIN: reset.
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void UpstreamPool::expire(std::vector<Idle>& list, TimePoint now) {
  std::erase_if(list, [&](Idle& e) {
    if (now - e.since < options_.maxIdle) return false;
    ++counters_.expired;
    closeNow(*e.socket);
    return true;
  });
}

void UpstreamPool::watch(const tcp::endpoint& worker, tcp::socket* socket) {
  socket->async_wait(tcp::socket::wait_read, [this, alive = std::weak_ptr<int>(alive_), worker, socket](error_code ec) {
    if (!ec && !alive.expired()) onReadable(worker, socket);
  });
}

void UpstreamPool::onReadable(const tcp::endpoint& worker, tcp::socket* socket) {
  auto it = idle_.find(worker);
  if (it == idle_.end()) return;
  auto& list = it->second;
  // Matched by address: a connection taken since then is no longer listed, so it is left alone.
  auto e = std::find_if(list.begin(), list.end(), [&](const Idle& i) { return i.socket.get() == socket; });
  if (e == list.end()) return;
  if (quiescent(*e->socket)) return watch(worker, socket);  // woken for nothing
  ++counters_.stale;
  closeNow(*e->socket);
  list.erase(e);
  if (list.empty()) idle_.erase(it);
}

std::unique_ptr<tcp::socket> UpstreamPool::take(const tcp::endpoint& worker, TimePoint now) {
  auto it = idle_.find(worker);
  if (it == idle_.end()) return nullptr;
  auto& list = it->second;
  expire(list, now);
  std::unique_ptr<tcp::socket> socket;
  while (!socket && !list.empty()) {
    socket = std::move(list.back().socket);
    list.pop_back();
    if (!quiescent(*socket)) {  // closed by the worker since its watch last looked
      ++counters_.stale;
      closeNow(*socket);
      socket.reset();
    }
  }
  if (list.empty()) idle_.erase(it);
  if (!socket) return nullptr;
  error_code ignored;
  socket->cancel(ignored);  // ends the idle watch; nothing else is pending
  ++counters_.reused;
  return socket;
}

void UpstreamPool::put(const tcp::endpoint& worker, std::unique_ptr<tcp::socket> socket, std::size_t cap,
                       TimePoint now) {
  if (!socket) return;
  if (!quiescent(*socket)) {
    ++counters_.stale;
    closeNow(*socket);
    return;
  }
  cap = std::min(cap, options_.maxIdlePerWorker);
  auto& list = idle_[worker];
  expire(list, now);
  while (!list.empty() && list.size() >= cap) {
    // The oldest goes: it is the likeliest to expire before it is used again.
    ++counters_.overflow;
    closeNow(*list.front().socket);
    list.erase(list.begin());
  }
  if (cap == 0) {
    ++counters_.overflow;
    closeNow(*socket);
    if (list.empty()) idle_.erase(worker);
    return;
  }
  watch(worker, socket.get());
  list.push_back(Idle{std::move(socket), now});
  ++counters_.returned;
}

void UpstreamPool::clear() {
  for (auto& [worker, list] : idle_)
    for (auto& e : list) closeNow(*e.socket);
  idle_.clear();
}

std::size_t UpstreamPool::idle() const {
  std::size_t n = 0;
  for (const auto& [worker, list] : idle_) n += list.size();
  return n;
}

}  // namespace qmesh::router
