#include "tests/integration/over_the_wire_fixture.h"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "tests/integration/wire_clients.h"

namespace qmesh::test {

using nlohmann::json;
using namespace std::chrono;

TempDir* OverTheWire::dir_ = nullptr;
MeshTestNode* OverTheWire::a_ = nullptr;
MeshTestNode* OverTheWire::b_ = nullptr;
std::string OverTheWire::setupError_;
uint64_t OverTheWire::fdLimit_ = 0;
int OverTheWire::pids_[4] = {};

std::string chatBody(const std::string& model, int maxTokens) {
  return json{{"model", model}, {"messages", {{{"role", "user"}, {"content", "hello"}}}}, {"max_tokens", maxTokens}}
      .dump();
}

namespace {

bool servesBoth(MeshTestNode& n) {
  auto j = json::parse(httpGet(n.routerUrl("/v1/models")).body, nullptr, false);
  int ready = 0;
  if (j.is_object() && j["data"].is_array())
    for (const auto& m : j["data"]) ready += m["qmesh"].value("ready_workers", 0) > 0 ? 1 : 0;
  return ready == 2;
}

}  // namespace

int OverTheWire::routerPid(MeshTestNode& n) {
  auto s = n.supervisorStatus();
  if (!s || !(*s)["router"].is_object() || !(*s)["router"]["pid"].is_number()) return -1;
  return (*s)["router"]["pid"].get<int>();
}

void OverTheWire::SetUpTestSuite() {
  if (!haveRealLlamaServer()) return;
  fdLimit_ = raiseOwnFdLimit();  // the floods hold 5,000 descriptors
  dir_ = new TempDir();
  const std::string routerYaml = "  header_timeout: " + std::to_string(kHeaderTimeout.count()) +
                                 "s\n  max_body_bytes: " + std::to_string(kMaxBodyBytes) + "\n";
  a_ = new MeshTestNode(dir_->path(), MeshNodeSpec{"a", "demo-a", {}, *dir_ / "a.keys", {}, routerYaml});
  a_->start();
  if (!waitUntil([] { return a_->mesh().has_value(); }, seconds(60))) {
    setupError_ = "a never served /api/mesh:\n" + a_->log();
    return;
  }
  std::filesystem::copy_file(*dir_ / "a.keys", *dir_ / "b.keys");
  b_ = new MeshTestNode(dir_->path(), MeshNodeSpec{"b", "demo-b", {a_->gossipAddress()}, *dir_ / "b.keys", {}, routerYaml});
  b_->start();
  if (!waitForMeshState({a_, b_}, {"a", "b"}, "alive", seconds(60)) ||
      !waitUntil([] { return servesBoth(*a_) && servesBoth(*b_); }, seconds(60))) {
    setupError_ = "the mesh never formed:\na:\n" + a_->log() + "\nb:\n" + b_->log();
    return;
  }
  pids_[0] = a_->supervisorPid();
  pids_[1] = routerPid(*a_);
  pids_[2] = b_->supervisorPid();
  pids_[3] = routerPid(*b_);
}

void OverTheWire::TearDownTestSuite() {
  delete b_;
  delete a_;
  delete dir_;
  b_ = a_ = nullptr;
  dir_ = nullptr;
}

void OverTheWire::SetUp() {
  if (!haveRealLlamaServer()) GTEST_SKIP() << "llama-server or the demo model is not built yet";
  ASSERT_TRUE(setupError_.empty()) << setupError_;
}

void OverTheWire::expectUnharmed() {
  if (!a_ || !b_ || !setupError_.empty()) return;
  EXPECT_EQ(a_->supervisorPid(), pids_[0]);
  EXPECT_EQ(b_->supervisorPid(), pids_[2]);
  // The supervisor restarts a router that stops answering its health probe: a new pid would
  // mean the case made a router crash or hang.
  EXPECT_EQ(routerPid(*a_), pids_[1]) << a_->log();
  EXPECT_EQ(routerPid(*b_), pids_[3]) << b_->log();
  for (MeshTestNode* n : {a_, b_}) {
    const auto health = httpGet(n->routerUrl("/health"), seconds(5));
    EXPECT_EQ(health.status, 200) << n->name() << ": " << health.error << health.body;
  }
}

OverTheWire::Timed OverTheWire::timedChat(const std::string& model) {
  const auto start = steady_clock::now();
  Timed t;
  t.response = httpPostJson(a_->routerUrl("/v1/chat/completions"), chatBody(model), {}, seconds(30));
  t.took = duration_cast<milliseconds>(steady_clock::now() - start);
  t.status = t.response.status;
  return t;
}

milliseconds OverTheWire::baseline(const std::string& model) {
  std::vector<milliseconds> took;
  for (int i = 0; i < 3; ++i) {
    const Timed t = timedChat(model);
    EXPECT_EQ(t.status, 200) << t.response.error << t.response.body;
    took.push_back(t.took);
  }
  std::sort(took.begin(), took.end());
  return took[1];
}

bool OverTheWire::bothAlive() { return a_->stateOf("b") == "alive" && b_->stateOf("a") == "alive"; }

}  // namespace qmesh::test
