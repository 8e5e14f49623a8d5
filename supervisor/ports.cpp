#include "supervisor/ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace qmesh {

namespace {

// Binds (and closes) a TCP socket; returns the bound port or the errno text.
Result<uint16_t> tryBind(const std::string& host, uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return makeError(std::string("socket: ") + strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    if (inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) != 1) {
      ::close(fd);
      return makeError("'" + host + "' is not an IPv6 address");
    }
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1) {
      ::close(fd);
      return makeError("'" + host + "' is not an IPv4 address");
    }
    len = sizeof *a;
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 1) != 0) {
    const int err = errno;
    ::close(fd);
    return makeError(strerror(err));
  }
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  const uint16_t bound = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                  : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  ::close(fd);
  return bound;
}

}  // namespace

Result<uint16_t> pickFreeLoopbackPort() {
  auto port = tryBind("127.0.0.1", 0);
  if (!port) return makeError("no free loopback port: " + port.error().message);
  return port;
}

Status checkPortFree(const std::string& host, uint16_t port) {
  auto r = tryBind(host, port);
  if (!r) return makeError(host + ":" + std::to_string(port) + " is not available (" + r.error().message + ")");
  return Ok{};
}

}  // namespace qmesh
