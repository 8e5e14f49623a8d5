// Loopback port helpers (supervisor/ports.h), against real sockets.
#include "supervisor/ports.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace qmesh {
namespace {

// A listening TCP socket on 127.0.0.1, closed when the object dies.
class Listener {
 public:
  explicit Listener(uint16_t port = 0, bool reuseAddr = false) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (reuseAddr && fd_ >= 0) ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    socklen_t len = sizeof a;
    ok_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
          ::listen(fd_, 4) == 0 && ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0;
    port_ = ntohs(a.sin_port);
  }
  ~Listener() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return ok_; }
  int fd() const { return fd_; }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  bool ok_ = false;
  uint16_t port_ = 0;
};

TEST(PortsTest, PickFreeLoopbackPortGivesABindablePort) {
  auto port = pickFreeLoopbackPort();
  ASSERT_TRUE(port.ok()) << port.error().message;
  EXPECT_GT(*port, 0);
  // Another process could take it in between, but on a test machine that is vanishingly rare.
  Listener l(*port);
  EXPECT_TRUE(l.ok()) << "cannot bind 127.0.0.1:" << *port;
}

TEST(PortsTest, CheckPortFreeAcceptsAFreePort) {
  uint16_t port = 0;
  {
    Listener l;
    ASSERT_TRUE(l.ok());
    port = l.port();
  }
  auto status = checkPortFree("127.0.0.1", port);
  EXPECT_TRUE(status.ok()) << status.error().message;
}

TEST(PortsTest, CheckPortFreeFailsWithAClearMessageForAListeningPort) {
  Listener l;
  ASSERT_TRUE(l.ok());
  auto status = checkPortFree("127.0.0.1", l.port());
  ASSERT_FALSE(status.ok());
  const std::string& msg = status.error().message;
  EXPECT_NE(msg.find("127.0.0.1:" + std::to_string(l.port()) + " is not available"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("Address already in use"), std::string::npos) << msg;
}

TEST(PortsTest, CheckPortFreeSeesAListenerOnTheWildcardAddress) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const uint16_t port = ntohs(a.sin_port);
  EXPECT_FALSE(checkPortFree("127.0.0.1", port).ok());
  ::close(fd);
}

// A server restarted on a fixed port finds it in TIME_WAIT from the connections it closed;
// like the server itself (SO_REUSEADDR), the check must call that free.
TEST(PortsTest, CheckPortFreeAcceptsAPortInTimeWait) {
  uint16_t port = 0;
  {
    Listener server(0, /*reuseAddr=*/true);  // as llama-server does; TIME_WAIT inherits it
    ASSERT_TRUE(server.ok());
    port = server.port();
    const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    const int accepted = ::accept(server.fd(), nullptr, nullptr);
    ASSERT_GE(accepted, 0);
    ::close(accepted);  // the server side closes first: its port goes to TIME_WAIT
    char c;
    ASSERT_EQ(::read(client, &c, 1), 0);  // EOF: the FIN arrived
    ::close(client);
  }
  auto status = checkPortFree("127.0.0.1", port);
  EXPECT_TRUE(status.ok()) << status.error().message;
}

TEST(PortsTest, CheckPortFreeRejectsAHostThatIsNotAnAddress) {
  auto status = checkPortFree("localhost", 8080);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("'localhost' is not an IPv4 address"), std::string::npos)
      << status.error().message;
}

}  // namespace
}  // namespace qmesh
