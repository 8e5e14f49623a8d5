#include "tests/router/fake_upstream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

namespace qmesh::test {

using namespace std::chrono;

FakeUpstream::FakeUpstream(FakeUpstreamScript script, const std::string& bindAddress)
    : host_(bindAddress), script_(std::move(script)) {
  listenFd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  socklen_t len = sizeof addr;
  if (::inet_pton(AF_INET, bindAddress.c_str(), &addr.sin_addr) != 1 ||
      ::bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listenFd_, 512) != 0 ||
      ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error("FakeUpstream cannot listen");
  port_ = ntohs(addr.sin_port);
  acceptThread_ = std::thread([this] { acceptLoop(); });
}

FakeUpstream::~FakeUpstream() {
  stop_ = true;
  ::shutdown(listenFd_, SHUT_RDWR);
  acceptThread_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : threads_) t.join();
  for (int fd : fds_) ::close(fd);
  ::close(listenFd_);
}

std::string FakeUpstream::lastRequest() {
  std::lock_guard<std::mutex> lock(mu_);
  return lastRequest_;
}

std::optional<steady_clock::time_point> FakeUpstream::lastPeerClose() {
  std::lock_guard<std::mutex> lock(mu_);
  return peerClose_;
}

void FakeUpstream::setScript(const FakeUpstreamScript& s) {
  std::lock_guard<std::mutex> lock(mu_);
  script_ = s;
}

std::string FakeUpstream::event(std::size_t payloadBytes, int index) {
  return R"(data: {"choices":[{"index":0,"delta":{"content":")" + std::string(payloadBytes, 'a' + index % 26) +
         R"("}}],"object":"chat.completion.chunk"})" + "\n\n";
}

void FakeUpstream::acceptLoop() {
  while (!stop_) {
    pollfd p{listenFd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int fd = ::accept(listenFd_, nullptr, nullptr);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ++connections_;
    std::lock_guard<std::mutex> lock(mu_);
    fds_.push_back(fd);
    threads_.emplace_back([this, fd] { serve(fd); });
  }
}

bool FakeUpstream::sendAll(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

bool FakeUpstream::pause(int fd, milliseconds d) {
  const auto until = steady_clock::now() + d;
  while (!stop_) {
    const auto left = duration_cast<milliseconds>(until - steady_clock::now()).count();
    if (left <= 0 && d.count() >= 0) return true;
    pollfd p{fd, POLLIN | POLLRDHUP, 0};
    const int r = ::poll(&p, 1, d.count() < 0 ? 20 : static_cast<int>(std::min<int64_t>(left, 20)));
    if (r > 0) {
      char c;
      if (::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0) return false;
    }
  }
  return false;
}

bool FakeUpstream::readRequest(int fd, std::string& req) {
  // Headers, then Content-Length bytes of body.
  char buf[8192];
  std::size_t need = std::string::npos;
  while (need == std::string::npos || req.size() < need) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    req.append(buf, static_cast<std::size_t>(n));
    const auto end = req.find("\r\n\r\n");
    if (end != std::string::npos && need == std::string::npos) {
      std::size_t len = 0;
      const auto cl = req.find("Content-Length: ");
      if (cl != std::string::npos && cl < end) len = std::stoul(req.substr(cl + 16));
      need = end + 4 + len;
    }
  }
  return !req.empty();
}

void FakeUpstream::serve(int fd) {
  ++open_;
  for (int served = 0;; ++served) {
    FakeUpstreamScript s;
    if (served > 0) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        s = script_;
      }
      pollfd p{fd, POLLIN, 0};
      const int waitMs = s.idleTimeout.count() >= 0 ? static_cast<int>(s.idleTimeout.count()) : -1;
      if (::poll(&p, 1, waitMs) == 0) break;  // idle too long: close, as cpp-httplib does
    }
    std::string req;
    // The first request is answered even if cut short (as before keep-alive); a kept-alive
    // connection that ends with no request is simply closed.
    if (!readRequest(fd, req) && served > 0) break;
    {
      std::lock_guard<std::mutex> lock(mu_);
      lastRequest_ = req;
      s = script_;  // the script as it is when the request arrives
    }
    ++requests_;
    if (s.keepAlive && served == s.closeUnansweredAfter) break;
    const Answer a = answer(fd, s);
    if (a == Answer::reset) return;
    if (a == Answer::broken || !s.keepAlive) break;
  }
  ::shutdown(fd, SHUT_WR);
  --open_;
}

FakeUpstream::Answer FakeUpstream::answer(int fd, const FakeUpstreamScript& s) {
  const std::string connection = s.keepAlive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  bool complete = false;
  if (s.pauseBeforeHeader.count() > 0 && !pause(fd, s.pauseBeforeHeader)) {
    // the router let go while we were thinking
  } else if (!s.sse) {
    complete = sendAll(fd, "HTTP/1.1 " + std::to_string(s.status) + " X\r\nContent-Type: application/json\r\n"
                           "Content-Length: " + std::to_string(s.body.size()) + "\r\n" + connection + "\r\n" + s.body);
  } else if (sendAll(fd, "HTTP/1.1 " + std::to_string(s.status) +
                             " X\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n" +
                             connection + "\r\n")) {
    auto chunk = [](const std::string& d) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "%zx\r\n", d.size());
      return hex + d + "\r\n";
    };
    complete = !s.hangAfterHeader || pause(fd, milliseconds(-1));
    const bool dies = s.dieAfterEvents >= 0 && (!s.deathBudget || s.deathBudget->fetch_sub(1) > 0);
    for (int i = 0; complete && i < s.events; ++i) {
      if (dies && i == s.dieAfterEvents) break;
      const std::string e = event(s.eventBytes, i);
      if (i == 0 && s.pauseInsideFirst.count() > 0) {
        complete = sendAll(fd, chunk(e.substr(0, e.size() / 2))) && pause(fd, s.pauseInsideFirst) &&
                   sendAll(fd, chunk(e.substr(e.size() / 2)));
      } else {
        complete = sendAll(fd, chunk(e));
      }
      if (complete && i == 0 && s.pauseAfterFirst.count() > 0) complete = pause(fd, s.pauseAfterFirst);
      if (complete && s.interval.count() > 0) complete = pause(fd, s.interval);
    }
    if (dies && complete) {
      linger reset{1, 0};  // close() sends a RST, as the kernel does for a killed process
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
      {
        std::lock_guard<std::mutex> lock(mu_);
        fds_.erase(std::remove(fds_.begin(), fds_.end(), fd), fds_.end());
      }
      ::close(fd);
      --open_;
      return Answer::reset;
    }
    complete = complete && sendAll(fd, chunk("data: [DONE]\n\n") + "0\r\n\r\n");
  }
  if (!complete && !stop_) {
    std::lock_guard<std::mutex> lock(mu_);
    peerClose_ = steady_clock::now();
  }
  return complete ? Answer::complete : Answer::broken;
}

}  // namespace qmesh::test
