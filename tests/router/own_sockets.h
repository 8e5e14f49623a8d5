// The connected IPv4 TCP sockets of this test process, found through /proc/self/fd, so a
// test can ask the kernel what options one end of a connection it made carries.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace qmesh::test {

struct OwnSocket {
  int fd = -1;
  uint16_t localPort = 0, peerPort = 0;
};

// Listeners (no peer) and non-IPv4 sockets are left out.
inline std::vector<OwnSocket> connectedSockets() {
  std::vector<OwnSocket> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    int fd = -1;
    try {
      fd = std::stoi(e.path().filename().string());
    } catch (const std::exception&) {
      continue;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_in local{}, peer{};
    socklen_t ll = sizeof local, pl = sizeof peer;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &ll) != 0 || local.sin_family != AF_INET) continue;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) != 0) continue;
    out.push_back({fd, ntohs(local.sin_port), ntohs(peer.sin_port)});
  }
  return out;
}

}  // namespace qmesh::test
