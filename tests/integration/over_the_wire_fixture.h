// Issue 8, "Over the wire": hostile clients against REAL processes. One mesh of two nodes
// (qmesh-supervisor + qmesh-router + llama-server on the demo model each: a serves demo-a, b
// serves demo-b), started once for the whole suite, so that the router HTTP port, the
// data-plane port and the gossip push-pull port all exist and carry real traffic (a request
// to a for demo-b crosses a's data plane to b). Every case ends by checking that it harmed
// nothing: the same supervisor and router pids on both nodes, and /health answering.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "tests/integration/mesh_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/test_env.h"

namespace qmesh::test {

// Short deadlines, so that the slow clients are cut off within a test's patience, and a small
// body limit, so that an oversize upload is cheap. Identical on both nodes.
inline constexpr auto kHeaderTimeout = std::chrono::seconds(2);
inline constexpr uint64_t kMaxBodyBytes = 1 << 20;
// The data plane's handshake deadline and the push-pull first-bytes deadline (code defaults).
inline constexpr auto kFirstBytesDeadline = std::chrono::seconds(1);
// A server closes a slow connection within its deadline plus this: scheduling under ASan on
// a loaded 2-core CI machine, and our own poll granularity.
inline constexpr auto kCloseSlack = std::chrono::milliseconds(1500);

std::string chatBody(const std::string& model, int maxTokens = 4);

class OverTheWire : public ::testing::Test {
 public:
  // A chat completion through a's router (timedChat): its status and how long it took.
  struct Timed {
    long status = 0;
    std::chrono::milliseconds took{0};
    HttpResponse response;
  };
  static MeshTestNode& a() { return *a_; }
  static MeshTestNode& b() { return *b_; }

 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;
  // Each case: both nodes' supervisor and router pids unchanged, /health answering.
  void TearDown() override { expectUnharmed(); }
  void expectUnharmed();

  // A chat completion through a's router for `model`.
  static Timed timedChat(const std::string& model);
  // The median latency of three chats for `model` (all must answer 200).
  static std::chrono::milliseconds baseline(const std::string& model);
  // The "usual time" a request must still meet during a flood: generous, since a flood costs
  // the router CPU it shares with llama-server on 2 cores, yet far below what a locked-out
  // client sees (a 503, or a connect timeout).
  static std::chrono::milliseconds usualTimeBound(std::chrono::milliseconds baseline) {
    return std::max(4 * baseline, baseline + std::chrono::milliseconds(1000));
  }
  // Whether a and b see each other alive right now.
  static bool bothAlive();
  static int routerPid(MeshTestNode& n);
  // This process's RLIMIT_NOFILE after raising it to the hard limit.
  static uint64_t fdLimit() { return fdLimit_; }

 private:
  static TempDir* dir_;
  static MeshTestNode* a_;
  static MeshTestNode* b_;
  static std::string setupError_;
  static uint64_t fdLimit_;
  static int pids_[4];  // a's supervisor, a's router, b's supervisor, b's router
};

}  // namespace qmesh::test
