#include "tests/support/test_env.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>

namespace qmesh::test {

namespace fs = std::filesystem;

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/qmesh-test-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

fs::path TempDir::write(const std::string& name, const std::string& content) const {
  const fs::path p = path_ / name;
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
  return p;
}

bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
               std::chrono::milliseconds poll) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
}

static fs::path envPath(const char* name, const fs::path& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? fs::path(v) : fallback;
}

fs::path sourceDir() { return envPath("QMESH_SOURCE_DIR", QMESH_TEST_SOURCE_DIR); }
fs::path buildDir() { return envPath("QMESH_BUILD_DIR", QMESH_TEST_BUILD_DIR); }
fs::path llamaServerBinary() { return sourceDir() / "third_party_bins" / "linux-x64" / "llama-server"; }
fs::path supervisorBinary() { return buildDir() / "supervisor" / "qmesh-supervisor"; }
fs::path routerBinary() { return buildDir() / "router" / "qmesh-router"; }
fs::path demoModel() { return sourceDir() / "third_party_bins" / "models" / "demo.gguf"; }
bool haveRealLlamaServer() { return fs::exists(llamaServerBinary()) && fs::exists(demoModel()); }

LoopbackListener::LoopbackListener() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd_, 64) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error("cannot listen on a loopback port");
  port_ = ntohs(addr.sin_port);
}

LoopbackListener::~LoopbackListener() { close(); }

void LoopbackListener::close() {
  if (fd_ < 0) return;
  ::shutdown(fd_, SHUT_RDWR);
  ::close(fd_);
  fd_ = -1;
}

namespace {

// true when nothing holds 127.0.0.1:port (binding succeeds); 0 binds any free port.
bool bindsLoopback(uint16_t port, uint16_t* bound) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  if (ok && bound) *bound = ntohs(addr.sin_port);
  return ok;
}

// The low end of the kernel's ephemeral range (net.ipv4.ip_local_port_range).
int ephemeralLow() {
  std::ifstream f("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0;
  return f >> low ? low : 32768;
}

}  // namespace

// A port below the kernel's ephemeral range: one from inside it may be given to any outgoing
// connection (a test's HTTP poll, a router's connection to its worker) between this call and
// the node's bind, which then fails "address in use" (seen: a router crash-looping on its
// data-plane port in a long ctest run). Below the range only another caller of this function
// can take it, and a random pick among thousands makes that rare.
uint16_t freeLoopbackPort() {
  const int low = ephemeralLow();
  if (low > 12000) {
    thread_local std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> pick(10000, low - 1);
    for (int i = 0; i < 100; ++i) {
      const auto port = static_cast<uint16_t>(pick(rng));
      if (bindsLoopback(port, nullptr)) return port;
    }
  }
  uint16_t port = 0;  // a system whose ephemeral range starts low: any free port
  if (!bindsLoopback(0, &port)) throw std::runtime_error("cannot bind a loopback port");
  return port;
}

}  // namespace qmesh::test
