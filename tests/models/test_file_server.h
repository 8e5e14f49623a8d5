// An HTTP/1.1 file server for download tests, misbehaving on demand: it answers 404, cuts
// the connection after N bytes, stalls after N bytes, or ignores Range. One connection at a
// time on its own thread, bound to 127.0.0.1 port 0. Records each request's Range header and
// the body bytes it sent, so a test can prove a resume fetched only the rest.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace qmesh::test {

class TestFileServer {
 public:
  enum class Mode { Serve, NotFound, CutAfter, StallAfter, IgnoreRange };

  explicit TestFileServer(std::string body) : body_(std::move(body)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listener_, 16);
    socklen_t len = sizeof a;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~TestFileServer() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
  }

  // `n`: body bytes sent before a cut or a stall.
  void setMode(Mode m, size_t n = 0) {
    std::lock_guard l(mu_);
    mode_ = m;
    limit_ = n;
  }
  std::string url(const std::string& path = "/model.gguf") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  uint16_t port() const { return port_; }
  std::vector<std::string> ranges() const {
    std::lock_guard l(mu_);
    return ranges_;
  }
  size_t bodyBytesSent() const { return sent_; }

 private:
  bool waitReadable(int fd) {
    pollfd p{fd, POLLIN, 0};
    while (!stop_)
      if (::poll(&p, 1, 20) > 0) return true;
    return false;
  }

  void run() {
    while (waitReadable(listener_)) {
      const int c = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      serve(c);
      ::close(c);
    }
  }

  static bool sendAll(int fd, const char* p, size_t n) {
    while (n > 0) {
      const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }

  void serve(int c) {
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos) {
      if (!waitReadable(c)) return;
      const ssize_t r = ::recv(c, buf, sizeof buf, 0);
      if (r <= 0) return;
      head.append(buf, static_cast<size_t>(r));
      if (head[0] == '\x16') {  // a TLS ClientHello: answer as nginx does on a plain port
        const std::string bad = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        sendAll(c, bad.data(), bad.size());
        return;
      }
    }
    Mode mode;
    size_t limit;
    {
      std::lock_guard l(mu_);
      mode = mode_;
      limit = limit_;
    }
    size_t from = 0;
    const auto rp = head.find("\r\nRange: bytes=");
    {
      std::lock_guard l(mu_);
      ranges_.push_back(rp == std::string::npos ? "" : head.substr(rp + 15, head.find("\r\n", rp + 2) - rp - 15));
    }
    if (rp != std::string::npos && mode != Mode::IgnoreRange) from = std::stoull(head.substr(rp + 15));
    if (mode == Mode::NotFound) {
      const std::string r = "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found";
      sendAll(c, r.data(), r.size());
      return;
    }
    if (from >= body_.size() && from > 0) {
      const std::string r = "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      sendAll(c, r.data(), r.size());
      return;
    }
    const size_t len = body_.size() - from;
    std::string r = from ? "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes " + std::to_string(from) + "-" +
                               std::to_string(body_.size() - 1) + "/" + std::to_string(body_.size()) + "\r\n"
                         : std::string("HTTP/1.1 200 OK\r\n");
    r += "Content-Length: " + std::to_string(len) + "\r\nConnection: close\r\n\r\n";
    if (!sendAll(c, r.data(), r.size())) return;
    const bool stops = mode == Mode::CutAfter || mode == Mode::StallAfter;
    const size_t n = stops ? std::min(limit, len) : len;
    for (size_t off = 0; off < n && !stop_;) {
      const size_t chunk = std::min<size_t>(64 * 1024, n - off);
      if (!sendAll(c, body_.data() + from + off, chunk)) return;
      off += chunk;
      sent_ += chunk;
    }
    if (mode == Mode::StallAfter) {
      // Hold the connection open, sending nothing, until the client gives up or we stop.
      while (!stop_) {
        pollfd p{c, POLLIN, 0};
        if (::poll(&p, 1, 20) > 0 && ::recv(c, buf, sizeof buf, 0) <= 0) return;
      }
    }
  }

  std::string body_;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  Mode mode_ = Mode::Serve;
  size_t limit_ = 0;
  std::vector<std::string> ranges_;
  std::atomic<size_t> sent_{0};
  std::thread thread_;
};

}  // namespace qmesh::test
