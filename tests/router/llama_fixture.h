// Real processes for router integration tests: a llama-server on the demo model, and the
// qmesh-router binary in static mode in front of it. Both die with the fixture.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/support/test_env.h"
#include "tests/support/test_process.h"

namespace qmesh::test {

struct LlamaServer {
  uint16_t port = 0;
  std::unique_ptr<TestProcess> proc;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

// Starts llama-server on the demo model and waits until /health says ok.
LlamaServer startLlama(const TempDir& dir, const std::string& name, int slots, int ctx,
                       std::vector<std::string> extra = {});

struct RouterProcess {
  uint16_t port = 0;
  std::unique_ptr<TestProcess> proc;
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port) + path; }
};

// qmesh-router --listen 127.0.0.1:<free> --worker ... (+ extra flags); waits until it serves.
RouterProcess startRouter(const TempDir& dir, const std::vector<std::string>& workers,
                          std::vector<std::string> extra = {});

}  // namespace qmesh::test
