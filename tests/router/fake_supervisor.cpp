#include "tests/router/fake_supervisor.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace qmesh::test {

namespace {

bool sendAllTo(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

std::string headerValue(const std::string& head, const std::string& name) {
  const auto at = head.find("\r\n" + name + ": ");
  if (at == std::string::npos) return "";
  const auto from = at + 4 + name.size();
  return head.substr(from, head.find("\r\n", from) - from);
}

std::string httpAnswer(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace

FakeSupervisor::FakeSupervisor() { listen(); }

FakeSupervisor::~FakeSupervisor() { close(); }

void FakeSupervisor::listen() {
  listenFd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listenFd_, 64) != 0 ||
      ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error("FakeSupervisor cannot listen");
  port_ = ntohs(addr.sin_port);
  stop_ = false;
  acceptThread_ = std::thread([this] { acceptLoop(); });
}

void FakeSupervisor::close() {
  if (listenFd_ < 0) return;
  {
    std::lock_guard<std::mutex> lock(mu_);  // a poll between its check and its wait sees it
    stop_ = true;
  }
  changed_.notify_all();
  ::shutdown(listenFd_, SHUT_RDWR);
  acceptThread_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (int fd : fds_) ::close(fd);
  fds_.clear();
  ::close(listenFd_);
  listenFd_ = -1;
}

void FakeSupervisor::setModels(const std::string& modelsJson) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    models_ = modelsJson;
    ++generation_;
  }
  changed_.notify_all();
}

void FakeSupervisor::setActionReply(int status, const std::string& body) {
  std::lock_guard<std::mutex> lock(mu_);
  actionStatus_ = status;
  actionBody_ = body;
}

std::vector<FakeSupervisor::Call> FakeSupervisor::calls() {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

std::string FakeSupervisor::statusBody() {
  return R"({"node":"testnode","generation":)" + std::to_string(generation_) + R"(,"models":)" + models_ + "}";
}

void FakeSupervisor::acceptLoop() {
  while (!stop_) {
    pollfd p{listenFd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int fd = ::accept(listenFd_, nullptr, nullptr);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    fds_.push_back(fd);
    threads_.emplace_back([this, fd] { serve(fd); });
  }
}

void FakeSupervisor::serve(int fd) {
  answer(fd);
  std::lock_guard<std::mutex> lock(mu_);
  std::erase(fds_, fd);
  ::close(fd);
}

void FakeSupervisor::answer(int fd) {
  std::string head;
  char buf[4096];
  while (head.find("\r\n\r\n") == std::string::npos) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    head.append(buf, static_cast<std::size_t>(n));
  }
  const std::string method = head.substr(0, head.find(' '));
  const auto targetAt = method.size() + 1;
  const std::string target = head.substr(targetAt, head.find(' ', targetAt) - targetAt);
  std::unique_lock<std::mutex> lock(mu_);
  if (method == "GET" && target.rfind("/status", 0) == 0) {
    const auto after = target.find("after=");
    if (after != std::string::npos) {
      const uint64_t seen = std::stoull(target.substr(after + 6));
      changed_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_ || generation_ > seen; });
    }
    if (stop_) return;  // lost: the poll is cut unanswered
    const std::string body = statusBody();
    lock.unlock();
    sendAllTo(fd, httpAnswer(200, body));
    return;
  }
  if (method == "POST" && target.rfind("/children/", 0) == 0) {
    calls_.push_back(Call{method, target, headerValue(head, "Authorization")});
    const std::string answer = httpAnswer(actionStatus_, actionBody_);
    lock.unlock();
    sendAllTo(fd, answer);
    return;
  }
  lock.unlock();
  sendAllTo(fd, httpAnswer(404, R"({"error":{"message":"not faked"}})"));
}

}  // namespace qmesh::test
