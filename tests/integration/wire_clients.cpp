#include "tests/integration/wire_clients.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace qmesh::test {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

sockaddr_in ipv4(const std::string& host, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  return a;
}

// A non-blocking socket bound to `source`, its connect to 127.0.0.1:port started; -1 on failure.
int startConnect(const std::string& source, uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const sockaddr_in from = ipv4(source, 0), to = ipv4("127.0.0.1", port);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&from), sizeof from) != 0 ||
      (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int socketError(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  return err;
}

// Reads what is there; true when the peer closed (EOF or reset).
bool drainSaysClosed(int fd, std::string* into = nullptr) {
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      if (into) into->append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) return true;
    return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  }
}

int msUntil(Clock::time_point t) {
  return static_cast<int>(std::max<int64_t>(0, std::chrono::duration_cast<milliseconds>(t - Clock::now()).count()));
}

}  // namespace

std::string floodSourceAddress(int i, int sources) { return "127.0.0." + std::to_string(2 + i % sources); }

uint64_t raiseOwnFdLimit() {
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &lim);
  ::getrlimit(RLIMIT_NOFILE, &lim);
  return lim.rlim_cur;
}

ConnectionFlood::ConnectionFlood(uint16_t port, int count, int sources) {
  for (int i = 0; i < count; ++i) {
    const int fd = startConnect(floodSourceAddress(i, sources), port);
    if (fd >= 0) fds_.push_back(fd);
  }
  closed_.assign(fds_.size(), false);
}

ConnectionFlood::~ConnectionFlood() {
  for (int fd : fds_) ::close(fd);
}

int ConnectionFlood::waitEstablished(milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::vector<std::size_t> pending(fds_.size());
  for (std::size_t i = 0; i < fds_.size(); ++i) pending[i] = i;
  int established = 0;
  while (!pending.empty()) {
    std::vector<pollfd> p;
    for (auto i : pending) p.push_back({fds_[i], POLLOUT, 0});
    if (::poll(p.data(), p.size(), msUntil(deadline)) <= 0) break;
    std::vector<std::size_t> still;
    for (std::size_t k = 0; k < p.size(); ++k) {
      if (p[k].revents == 0) {
        still.push_back(pending[k]);
        continue;
      }
      // Accepted and already closed (or reset) by the server still counts as established.
      const int err = socketError(fds_[pending[k]]);
      if (err == 0 || err == ECONNRESET || err == EPIPE) ++established;
    }
    pending.swap(still);
  }
  return established;
}

int ConnectionFlood::closedByServer() {
  std::vector<pollfd> p;
  for (int fd : fds_) p.push_back({fd, POLLIN | POLLRDHUP, 0});
  ::poll(p.data(), p.size(), 0);
  int closed = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (!closed_[i] && p[i].revents != 0 && drainSaysClosed(fds_[i])) closed_[i] = true;
    closed += closed_[i] ? 1 : 0;
  }
  return closed;
}

DribbleResult dribble(uint16_t port, int count, const std::string& payload, milliseconds interval,
                      milliseconds timeout, int sources) {
  struct Conn {
    int fd;
    Clock::time_point opened;
    bool open = true;
  };
  std::vector<Conn> conns;
  for (int i = 0; i < count; ++i) {
    const int fd = startConnect(floodSourceAddress(i, sources), port);
    if (fd < 0) continue;
    pollfd p{fd, POLLOUT, 0};
    ::poll(&p, 1, 2000);
    if (socketError(fd) != 0) {
      ::close(fd);
      continue;
    }
    conns.push_back({fd, Clock::now()});
  }
  DribbleResult r;
  r.connections = static_cast<int>(conns.size());
  const auto start = Clock::now(), deadline = start + timeout;
  auto noteClosed = [&](Conn& c) {
    c.open = false;
    ++r.closedByServer;
    r.slowestClose = std::max(r.slowestClose, std::chrono::duration_cast<milliseconds>(Clock::now() - c.opened));
  };
  std::size_t next = 0;  // index of the next payload byte
  auto nextSend = start;
  while (r.closedByServer < r.connections && Clock::now() < deadline) {
    if (Clock::now() >= nextSend) {
      const char byte = payload[std::min(next++, payload.size() - 1)];
      for (auto& c : conns)
        if (c.open) {
          if (::send(c.fd, &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) ++r.bytesSent;
          else if (errno != EAGAIN) noteClosed(c);
        }
      nextSend += interval;
    }
    std::vector<pollfd> p;
    std::vector<Conn*> which;
    for (auto& c : conns)
      if (c.open) {
        p.push_back({c.fd, POLLIN | POLLRDHUP, 0});
        which.push_back(&c);
      }
    if (::poll(p.data(), p.size(), std::min(msUntil(nextSend), msUntil(deadline))) <= 0) continue;
    for (std::size_t k = 0; k < p.size(); ++k)
      if (p[k].revents != 0 && drainSaysClosed(p[k].fd)) noteClosed(*which[k]);
  }
  for (auto& c : conns) ::close(c.fd);
  return r;
}

UploadResult uploadUntilAnswered(uint16_t port, const std::string& head, const std::string& chunk, uint64_t maxBytes,
                                 milliseconds timeout) {
  UploadResult r;
  const int fd = startConnect("127.0.0.1", port);
  if (fd < 0) return r;
  const auto deadline = Clock::now() + timeout;
  std::string out = head;
  std::size_t off = 0;
  bool closed = false;
  while (!closed && Clock::now() < deadline && r.response.empty()) {
    if (off == out.size() && r.bytesSent < maxBytes) {
      out = chunk;
      off = 0;
    }
    const bool wantWrite = off < out.size();
    pollfd p{fd, static_cast<short>(POLLIN | (wantWrite ? POLLOUT : 0)), 0};
    if (::poll(&p, 1, msUntil(deadline)) <= 0) break;
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) closed = drainSaysClosed(fd, &r.response);
    if (wantWrite && (p.revents & POLLOUT)) {
      const ssize_t n = ::send(fd, out.data() + off, out.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        off += static_cast<std::size_t>(n);
        r.bytesSent += static_cast<uint64_t>(n);
      } else if (errno != EAGAIN) {
        closed = true;
      }
    }
  }
  // The whole answer: it may have come in pieces.
  const auto readDeadline = Clock::now() + milliseconds(2000);
  while (!closed && Clock::now() < readDeadline && r.response.find("\r\n\r\n") != std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) break;
    closed = drainSaysClosed(fd, &r.response);
  }
  ::close(fd);
  return r;
}

}  // namespace qmesh::test
