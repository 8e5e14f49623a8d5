#include "tests/router/event_reader.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

namespace qmesh::test {

using namespace std::chrono;
using nlohmann::json;

EventReader::EventReader(uint16_t port, const std::string& lastEventId, int rcvbuf, int maxseg) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (rcvbuf) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (maxseg) ::setsockopt(fd_, IPPROTO_TCP, TCP_MAXSEG, &maxseg, sizeof maxseg);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
  std::string req = "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!lastEventId.empty()) req += "Last-Event-ID: " + lastEventId + "\r\n";
  req += "\r\n";
  (void)!::write(fd_, req.data(), req.size());
}

EventReader::~EventReader() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<SseEvent> EventReader::waitFor(const std::string& type, milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  for (;;) {
    while (!events_.empty()) {
      SseEvent e = std::move(events_.front());
      events_.erase(events_.begin());
      seen_.push_back(e);
      if (e.type == type) return e;
    }
    if (closed_ || steady_clock::now() >= deadline) return std::nullopt;
    readSome(duration_cast<milliseconds>(deadline - steady_clock::now()));
  }
}

bool EventReader::closedWithin(milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  while (!closed_ && steady_clock::now() < deadline) readSome(duration_cast<milliseconds>(deadline - steady_clock::now()));
  return closed_;
}

void EventReader::readSome(milliseconds timeout) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(timeout.count(), 1))) <= 0) return;
  char buf[65536];
  const ssize_t n = ::read(fd_, buf, sizeof buf);
  if (n <= 0) {
    closed_ = true;
    return;
  }
  raw_.append(buf, static_cast<std::size_t>(n));
  parse();
}

void EventReader::parse() {
  if (head_.empty()) {
    const auto end = raw_.find("\r\n\r\n");
    if (end == std::string::npos) return;
    head_ = raw_.substr(0, end + 4);
    raw_.erase(0, end + 4);
  }
  for (;;) {
    const auto crlf = raw_.find("\r\n");
    if (crlf == std::string::npos) return;
    const std::size_t size = std::stoul(raw_.substr(0, crlf), nullptr, 16);
    if (raw_.size() < crlf + 2 + size + 2) return;
    body_ += raw_.substr(crlf + 2, size);
    raw_.erase(0, crlf + 2 + size + 2);
    for (std::size_t cut; (cut = body_.find("\n\n")) != std::string::npos;) {
      std::string block = body_.substr(0, cut);
      body_.erase(0, cut + 2);
      SseEvent e;
      std::istringstream lines(block);
      for (std::string line; std::getline(lines, line);) {
        if (line.rfind("id: ", 0) == 0) e.id = line.substr(4);
        if (line.rfind("event: ", 0) == 0) e.type = line.substr(7);
        if (line.rfind("data: ", 0) == 0) e.data = json::parse(line.substr(6), nullptr, false);
      }
      if (!e.type.empty()) events_.push_back(std::move(e));
    }
  }
}

}  // namespace qmesh::test
