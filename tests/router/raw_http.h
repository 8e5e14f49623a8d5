// A raw TCP client for tests that must send what no HTTP library would: bytes that are not
// UTF-8 in the path, a header that announces a body never sent, a connection held open.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace qmesh::test {

class RawConnection {
 public:
  explicit RawConnection(uint16_t port);  // to 127.0.0.1; connected() says whether it worked
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  bool connected() const { return fd_ >= 0; }
  bool send(const std::string& bytes);
  // One response: the header and a Content-Length body, or what came before the peer closed
  // or `timeout` passed.
  std::string readResponse(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Whether the peer closed the connection (read returns 0) within `timeout`.
  bool closedWithin(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
  std::string pending_;  // bytes past the last response
};

// The status code of a raw response, 0 when there is none.
int statusOf(const std::string& response);
// The body of a raw response (after the blank line).
std::string bodyOf(const std::string& response);

}  // namespace qmesh::test
