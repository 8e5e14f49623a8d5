// Shared helpers for tests: temp dirs, deadlines instead of sleeps, and where things are.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

namespace qmesh::test {

// A fresh directory under $TMPDIR, removed with everything in it when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  std::filesystem::path write(const std::string& name, const std::string& content) const;

 private:
  std::filesystem::path path_;
};

// Polls `condition` every `poll` until it holds or `timeout` passes; returns whether it held.
bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
               std::chrono::milliseconds poll = std::chrono::milliseconds(20));

std::filesystem::path sourceDir();  // $QMESH_SOURCE_DIR, else the tree this was built from
std::filesystem::path buildDir();   // $QMESH_BUILD_DIR, else the build this was built in
std::filesystem::path llamaServerBinary();
// The qmesh binaries of this build (buildDir()).
std::filesystem::path supervisorBinary();
std::filesystem::path routerBinary();
std::filesystem::path demoModel();
// Integration tests need the packaged llama-server and the demo model; true when both exist.
bool haveRealLlamaServer();

// A TCP port on 127.0.0.1 that was free a moment ago, below the kernel's ephemeral range so
// no outgoing connection can take it before the caller binds it (test_env.cpp).
uint16_t freeLoopbackPort();

// A listening TCP socket on 127.0.0.1 (port picked by the kernel), held until destruction:
// a port that is really busy, or the base of a fake server.
class LoopbackListener {
 public:
  LoopbackListener();
  ~LoopbackListener();
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;
  int fd() const { return fd_; }
  uint16_t port() const { return port_; }
  void close();

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace qmesh::test
