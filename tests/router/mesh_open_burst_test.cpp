// A burst of requests to one peer opens its data-plane channels through RouterServices'
// OpenGate, so the peer's cap on unfinished handshakes per source address (32) never closes
// one of ours: against a peer that never finishes a handshake, 64 MeshUpstream connects at
// once open 16 connections, not 64; against a real DataPlaneListener all 64 succeed.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "router/dataplane/listener.h"
#include "router/mesh/mesh_link.h"
#include "router/proxy/mesh_upstream.h"
#include "router/router_services.h"
#include "tests/dataplane/test_loop.h"
#include "tests/router/router_harness.h"

namespace qmesh::router {
namespace {

using dataplane::SecureChannel;
using membership::Identity;
using namespace dataplane::test;

// All MeshUpstream asks of the mesh: the identity it opens channels under.
class IdentityOnlyMeshLink final : public MeshLink {
 public:
  explicit IdentityOnlyMeshLink(Identity id) : id_(std::move(id)) {}
  const Identity& identity() const override { return id_; }
  nlohmann::json statusJson(int64_t) const override { return nlohmann::json::object(); }
  void renderMetrics(std::string&) const override {}

 private:
  Identity id_;
};

Worker remoteWorkerAt(const membership::NodeId& peer, uint16_t dataPort) {
  Worker worker;
  worker.id = "m@b";
  worker.info.model = "m";
  worker.info.remote = true;
  worker.info.node = "b";
  worker.info.peer = peer;
  worker.info.dataAddress = "127.0.0.1:" + std::to_string(dataPort);
  return worker;
}

constexpr int kBurst = 64;

// kBurst MeshUpstream::connect calls to one worker's peer, all started at once.
struct OpenBurst {
  OpenBurst(net::io_context& io, Worker& worker, RouterServices& services) {
    for (int i = 0; i < kBurst; ++i) {
      upstreams.push_back(std::make_unique<MeshUpstream>(worker, services, io.get_executor()));
      results.push_back(spawn(io, upstreams.back()->connect(false)));
    }
  }
  int finished() const {
    int n = 0;
    for (const auto& r : results) n += r->has_value() ? 1 : 0;
    return n;
  }
  std::vector<std::unique_ptr<MeshUpstream>> upstreams;
  std::vector<std::shared_ptr<std::optional<error_code>>> results;
};

TEST(MeshOpenBurst, AtMostSixteenHandshakesToOnePeerAreInFlight) {
  qmesh::SteadyClock clock;
  const Identity alice = identityFromByte(1), bob = identityFromByte(2);
  IdentityOnlyMeshLink link(alice);
  auto cfg = test::RouterHarness::config({});
  cfg.connect_timeout = std::chrono::milliseconds(1000);
  auto services = std::make_shared<RouterServices>(cfg, clock);
  services->mesh = &link;
  net::io_context io;

  // A peer that accepts and never answers: every handshake stays unfinished until it times out.
  tcp::acceptor silent = loopbackAcceptor(io);
  std::vector<tcp::socket> accepted;
  std::function<void()> acceptNext = [&] {
    silent.async_accept([&](error_code ec, tcp::socket s) {
      if (ec) return;
      accepted.push_back(std::move(s));
      acceptNext();
    });
  };
  acceptNext();
  Worker worker = remoteWorkerAt(bob.id(), silent.local_endpoint().port());

  OpenBurst burst(io, worker, *services);
  auto& results = burst.results;
  // Until the first of them times out, the 16 that hold a turn are connected and the rest
  // wait without a connection.
  ASSERT_TRUE(runUntil(io, [&] { return burst.finished() > 0; }));
  EXPECT_EQ(accepted.size(), 16u);
  ASSERT_TRUE(runUntil(io, [&] { return burst.finished() == kBurst; }));
  for (const auto& r : results) EXPECT_TRUE(**r) << "an open to a silent peer succeeded";
  EXPECT_EQ(services->meshOpens.opening(bob.id()), 0u);
  EXPECT_EQ(services->meshOpens.waiting(bob.id()), 0u);
  burst.upstreams.clear();
}

TEST(MeshOpenBurst, SixtyFourConcurrentOpensToOnePeerAreNeverEvictedMidHandshake) {
  qmesh::SteadyClock clock;
  const Identity alice = identityFromByte(1), bob = identityFromByte(2);
  IdentityOnlyMeshLink link(alice);
  auto services = std::make_shared<RouterServices>(test::RouterHarness::config({}), clock);
  services->mesh = &link;
  net::io_context io;

  std::vector<SecureChannel> served;
  dataplane::DataPlaneListenerOptions o;  // the defaults a peer runs with
  o.onChannel = [&](SecureChannel c) { served.push_back(std::move(c)); };
  o.accept = [&](const membership::NodeId& id) { return id == alice.id(); };
  dataplane::DataPlaneListener listener(io.get_executor(), bob, o);
  ASSERT_FALSE(listener.open({"127.0.0.1", 0}));
  listener.start();
  ASSERT_LT(o.maxPendingPerSource, 64u) << "the burst must exceed the peer's per-source cap";

  Worker worker = remoteWorkerAt(bob.id(), listener.port());

  OpenBurst burst(io, worker, *services);
  auto& results = burst.results;
  ASSERT_TRUE(runUntil(io, [&] { return burst.finished() == kBurst; }));
  int failed = 0;
  for (const auto& r : results)
    if (**r) ++failed;
  EXPECT_EQ(failed, 0) << "of " << kBurst << " opens";
  EXPECT_EQ(listener.counters().evictedPerSourceCap, 0u);
  ASSERT_TRUE(runUntil(io, [&] { return listener.counters().authenticated == kBurst; }));
  burst.upstreams.clear();
  listener.stop();
}

}  // namespace
}  // namespace qmesh::router
