// A request forwarded from router n1 to router n2 over the data plane, while n2's worker is
// still thinking, when n2 silently disappears from n1's data plane (iptables DROP both ways
// on the data port: no FIN, no reset, and gossip still sees n2 alive, so nothing but the
// channel itself can end the wait). TCP keepalive and TCP_USER_TIMEOUT, derived from
// router.header_timeout (dataplane/tcp_liveness.h), must break the channel on both ends
// within about header_timeout: n1's client gets an OpenAI-shaped error, and n2's hop session
// lets its worker go. A slow answer on a healthy path (longer than header_timeout) must
// still arrive. Skipped, saying why, where namespaces cannot be created.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <future>
#include <iomanip>
#include <iostream>

#include "common/mesh_keys.h"
#include "tests/integration/netns_hosts.h"
#include "tests/integration/node_fixture.h"
#include "tests/router/fake_upstream.h"
#include "tests/support/http_client.h"

using namespace qmesh::test;
using namespace std::chrono;
using nlohmann::json;

namespace {

constexpr const char* kHttpPort = "8080";
constexpr const char* kGossipPort = "7946";
constexpr const char* kDataPort = "7947";
constexpr milliseconds kHeaderTimeout{2000};
// Keepalive timings are whole seconds and the kernel's timers fire a little late; the rest
// is the error's way back to the client.
constexpr milliseconds kSlack{1500};
const std::string kBody = R"({"model":"slow","messages":[{"role":"user","content":"hi"}]})";

double secondsSince(steady_clock::time_point t) { return duration<double>(steady_clock::now() - t).count(); }

class MeshSilentPeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = netnsUnavailable()) GTEST_SKIP() << *why;
    auto created = NetnsHosts::create(2);
    ASSERT_TRUE(created) << created.error().message;
    hosts = std::move(*created);
    // n2's worker runs in this process, on the switch: the partition below cuts only the
    // data plane between n1 and n2, never n2's path to its worker.
    worker = std::make_unique<FakeUpstream>(FakeUpstreamScript{}, hosts->rootAddress());
    ASSERT_TRUE(qmesh::writeMeshKeys(dir / "mesh.keys", {qmesh::generateMeshKey()}));
    start(0, "idle=http://127.0.0.1:9");
    start(1, "slow=" + worker->url());
    // n1 routes "slow" once gossip told it n2 serves it.
    ASSERT_TRUE(waitUntil(
        [&] {
          auto r = httpGet(url(0, "/v1/models"), seconds(2));
          return r.status == 200 && r.body.find("\"slow\"") != std::string::npos;
        },
        seconds(30), milliseconds(50)))
        << routers[0]->output();
  }

  void start(int i, const std::string& worker) {
    const std::string host = hosts->address(i), name = "n" + std::to_string(i + 1);
    std::vector<std::string> argv = {routerBinary().string(), "--node", name, "--log-level", "debug",
                                     "--listen", host + ":" + kHttpPort, "--worker", worker,
                                     "--header-timeout", std::to_string(kHeaderTimeout.count()),
                                     "--mesh-gossip", host + ":" + kGossipPort,
                                     "--mesh-data", host + ":" + kDataPort,
                                     "--mesh-key-file", (dir / "mesh.keys").string(),
                                     "--mesh-identity-file", (dir / (name + ".identity")).string(),
                                     "--mesh-members-file", (dir / (name + ".members")).string()};
    if (i > 0) argv.insert(argv.end(), {"--mesh-seed", hosts->address(0) + ":" + kGossipPort});
    routers.push_back(std::make_unique<TestProcess>(hosts->wrap(i, argv), dir / (name + ".log")));
  }

  std::string url(int i, const std::string& path) const {
    return "http://" + hosts->address(i) + ":" + kHttpPort + path;
  }

  std::string n1SeesN2() const {
    auto j = json::parse(httpGet(url(0, "/api/mesh"), seconds(2)).body, nullptr, false);
    if (j.is_discarded() || !j.contains("members")) return "?";
    for (const auto& m : j["members"])
      if (m.value("name", "") == "n2") return m.value("state", "");
    return "?";
  }

  // Declared in destruction order's reverse: routers, then the worker, then the namespaces.
  TempDir dir;
  std::unique_ptr<NetnsHosts> hosts;
  std::unique_ptr<FakeUpstream> worker;
  std::vector<std::unique_ptr<TestProcess>> routers;
};

}  // namespace

TEST_F(MeshSilentPeerTest, SilentlyPartitionedPeerCostsTheClientAtMostHeaderTimeout) {
  // Healthy but slow: twice header_timeout before the header, as a non-streaming completion.
  // Keepalive probes are answered by n2's kernel, so the channel lives.
  FakeUpstreamScript slow;
  slow.sse = false;
  slow.pauseBeforeHeader = 2 * kHeaderTimeout;
  worker->setScript(slow);
  const auto t0 = steady_clock::now();
  auto ok = httpPostJson(url(0, "/v1/chat/completions"), kBody, {}, seconds(30));
  EXPECT_EQ(ok.status, 200) << ok.error << ok.body << routers[0]->output();
  EXPECT_NE(ok.headers["x-qmesh-route"].find("> n2"), std::string::npos) << ok.headers["x-qmesh-route"];
  std::cout << "[ netns ] a " << slow.pauseBeforeHeader.count() << " ms answer over the mesh took " << std::fixed
            << std::setprecision(2) << secondsSince(t0) << " s\n";

  // The next one thinks for far longer than anyone waits; n2 vanishes while it does.
  FakeUpstreamScript forever = slow;
  forever.pauseBeforeHeader = seconds(60);
  worker->setScript(forever);
  auto pending = std::async(std::launch::async, [&] {
    return httpPostJson(url(0, "/v1/chat/completions"), kBody, {}, seconds(30));
  });
  ASSERT_TRUE(waitUntil([&] { return worker->requests() == 2; }, seconds(10), milliseconds(10)));
  for (const auto& rule : {std::vector<std::string>{"-A", "INPUT", "-s", hosts->address(0), "-p", "tcp", "--dport",
                                                    kDataPort, "-j", "DROP"},
                           std::vector<std::string>{"-A", "OUTPUT", "-d", hosts->address(0), "-p", "tcp", "--sport",
                                                    kDataPort, "-j", "DROP"}}) {
    auto st = hosts->iptables(1, rule);
    ASSERT_TRUE(st) << st.error().message;
  }
  const auto partitioned = steady_clock::now();

  ASSERT_EQ(pending.wait_for(kHeaderTimeout + kSlack), std::future_status::ready)
      << "the client still waits " << (kHeaderTimeout + kSlack).count() << " ms after n2 went silent\n"
      << routers[0]->output();
  const auto failed = pending.get();
  const double took = secondsSince(partitioned);
  std::cout << "[ netns ] the client got " << failed.status << " " << std::fixed << std::setprecision(2) << took
            << " s after n2 went silent (header_timeout " << kHeaderTimeout.count() << " ms)\n";
  EXPECT_TRUE(failed.status == 502 || failed.status == 503) << failed.status << " " << failed.error << failed.body;
  const auto err = json::parse(failed.body, nullptr, false);
  ASSERT_TRUE(!err.is_discarded() && err.contains("error") && err["error"].contains("message")) << failed.body;
  EXPECT_FALSE(err["error"]["message"].get<std::string>().empty());

  // n2's end broke too: its hop session closed, its router let the worker go.
  ASSERT_TRUE(waitUntil([&] { return worker->lastPeerClose().has_value(); }, kHeaderTimeout + kSlack,
                        milliseconds(10)))
      << "n2's worker was not let go " << (kHeaderTimeout + kSlack).count() << " ms after the partition\n"
      << routers[1]->output();
  EXPECT_LT(duration<double>(*worker->lastPeerClose() - partitioned).count(),
            duration<double>(kHeaderTimeout + kSlack).count());
  // Gossip never doubted n2: the channel's own liveness ended the wait, nothing else.
  EXPECT_EQ(n1SeesN2(), "alive");
}
