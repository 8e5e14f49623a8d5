// Slow and idle connections against the real nodes: slowloris (one byte every 0.5 s) on the
// router HTTP, data-plane and push-pull ports, cut off by each server's deadline while
// honest traffic goes on; and 5,000 idle connections to each port (from 64 loopback source
// addresses, so per-source caps see 64 clients) while an honest request is still served in
// its usual time.
#include <cstdio>
#include <future>

#include "tests/integration/over_the_wire_fixture.h"
#include "tests/integration/wire_clients.h"

using namespace qmesh::test;
using namespace std::chrono;
using nlohmann::json;

namespace {

constexpr auto kDribbleInterval = milliseconds(500);
constexpr int kFloodConnections = 5000;

// More bytes than any deadline lets through at one byte per kDribbleInterval.
const std::string kSlowHttpHeader =
    "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris-slowloris-slowloris\r\n\r\n";
// The start of a well-formed client hello (magic, version, then 160 bytes of keys and
// signature): a server that checks the prefix still waits for the rest.
const std::string kSlowHello = std::string("QMDP\x01", 5) + std::string(160, '\0');
// A push-pull frame header: a 14-byte sender address, then the data length.
const std::string kSlowFrame = std::string("\x00\x0e", 2) + "127.0.0.1:7946" + std::string("\x00\x00\x00\x10", 4);

std::string routeOf(const OverTheWire::Timed& t) {
  const auto it = t.response.headers.find("x-qmesh-route");
  return it == t.response.headers.end() ? "" : it->second;
}

// The figures, for the log: what "its usual time" was and what the flood made of it.
void report(const char* port, milliseconds usual, milliseconds during) {
  std::printf("[ measured ] %s: %lld ms before, %lld ms with %d idle connections held\n", port,
              static_cast<long long>(usual.count()), static_cast<long long>(during.count()), kFloodConnections);
}

json dataPlaneOf(MeshTestNode& n) {
  auto m = n.mesh();
  return m ? (*m)["stats"]["data_plane"] : json();
}

std::future<DribbleResult> dribbleInBackground(uint16_t port, int count, const std::string& payload,
                                               milliseconds deadline) {
  return std::async(std::launch::async, [=] {
    return dribble(port, count, payload, kDribbleInterval, deadline + kCloseSlack + seconds(2));
  });
}

void expectAllCutOffWithin(const DribbleResult& r, int count, milliseconds deadline) {
  EXPECT_EQ(r.connections, count);
  EXPECT_EQ(r.closedByServer, r.connections) << "slow connections the server never closed";
  EXPECT_LE(r.slowestClose, deadline + kCloseSlack);
}

// a's idle channels to b expire (at most half of b's header timeout): the next request to b
// must connect and handshake through b's data-plane listener, not reuse a channel.
void waitForNoPooledChannel() {
  ASSERT_TRUE(waitUntil([] { return dataPlaneOf(OverTheWire::a())["pool"]["idle"] == 0; }, seconds(5)));
}

}  // namespace

// The floods need 5,000 descriptors of ours (and the nodes as many, under the same hard limit).
#define SKIP_UNLESS_FDS_FOR_A_FLOOD()                                                              \
  if (fdLimit() < kFloodConnections + 1000)                                                        \
  GTEST_SKIP() << "RLIMIT_NOFILE allows " << fdLimit() << " descriptors; the flood needs "        \
               << kFloodConnections + 1000 << " (raise the hard limit: ulimit -Hn, LimitNOFILE=)"

TEST_F(OverTheWire, SlowlorisOnTheRouterPortIsCutOffAtTheHeaderTimeoutWhileRequestsAreServed) {
  auto slow = dribbleInBackground(a().routerPort(), 200, kSlowHttpHeader, kHeaderTimeout);
  EXPECT_EQ(timedChat("demo-a").status, 200);
  EXPECT_EQ(timedChat("demo-b").status, 200);
  expectAllCutOffWithin(slow.get(), 200, kHeaderTimeout);
}

TEST_F(OverTheWire, SlowlorisOnTheDataPlanePortIsCutOffAtTheHandshakeDeadlineWhileRequestsCross) {
  waitForNoPooledChannel();
  const auto before = dataPlaneOf(b());
  // 200 connections from 64 addresses: under both pending-handshake caps (256 overall, 32 per
  // source), so each one lasts until its own deadline, not until a newer one evicts it.
  auto slow = dribbleInBackground(b().dataPort(), 200, kSlowHello, kFirstBytesDeadline);
  const Timed crossed = timedChat("demo-b");
  EXPECT_EQ(crossed.status, 200) << crossed.response.body;
  EXPECT_NE(routeOf(crossed).find("> b/demo-b@"), std::string::npos);
  expectAllCutOffWithin(slow.get(), 200, kFirstBytesDeadline);
  const auto after = dataPlaneOf(b());
  EXPECT_GE(after["handshake_timeouts"].get<uint64_t>() - before["handshake_timeouts"].get<uint64_t>(), 200u)
      << after.dump();
  EXPECT_GT(after["authenticated"].get<uint64_t>(), before["authenticated"].get<uint64_t>()) << "the request reused a channel";
}

TEST_F(OverTheWire, SlowlorisOnThePushPullPortIsCutOffAtTheFirstBytesDeadlineWhileMembersStayAlive) {
  // Push-pull admits 32 unfinished connections (8 per source): 24 from 24 addresses stay
  // until the deadline cuts them, which is what this case proves.
  auto slow = std::async(std::launch::async, [] {
    return dribble(a().gossipPort(), 24, kSlowFrame, kDribbleInterval, kFirstBytesDeadline + kCloseSlack + seconds(2),
                   24);
  });
  bool alive = true;
  while (slow.wait_for(milliseconds(100)) != std::future_status::ready) alive = alive && bothAlive();
  EXPECT_TRUE(alive) << "a member was suspected during the slowloris";
  expectAllCutOffWithin(slow.get(), 24, kFirstBytesDeadline);
  EXPECT_TRUE(bothAlive());
}

TEST_F(OverTheWire, FiveThousandIdleConnectionsToTheRouterPortLeaveARequestItsUsualTime) {
  SKIP_UNLESS_FDS_FOR_A_FLOOD();
  const auto usual = baseline("demo-a");
  // 5,000 is more than router.max_connections (1024): at the cap each newcomer evicts the
  // longest-idle connection, so neither the flood nor the request below gets a 503.
  ConnectionFlood flood(a().routerPort(), kFloodConnections);
  ASSERT_EQ(flood.waitEstablished(seconds(20)), kFloodConnections);
  const Timed during = timedChat("demo-a");
  EXPECT_EQ(during.status, 200) << during.response.body;
  EXPECT_LE(during.took, usualTimeBound(usual)) << "baseline " << usual.count() << " ms";
  report("router port", usual, during.took);
  const auto metrics = httpGet(a().routerUrl("/metrics")).body;
  EXPECT_EQ(metrics.find("qmesh_router_connections_evicted_total 0\n"), std::string::npos) << "the cap was never hit";
  EXPECT_NE(metrics.find("qmesh_router_connections_refused_total 0\n"), std::string::npos)
      << "an idle flood made the router refuse connections";
}

TEST_F(OverTheWire, FiveThousandIdleConnectionsToTheDataPlanePortLeaveACrossingRequestItsUsualTime) {
  SKIP_UNLESS_FDS_FOR_A_FLOOD();
  const auto usual = baseline("demo-b");
  waitForNoPooledChannel();
  ConnectionFlood flood(b().dataPort(), kFloodConnections);
  ASSERT_EQ(flood.waitEstablished(seconds(20)), kFloodConnections);
  const Timed during = timedChat("demo-b");
  EXPECT_EQ(during.status, 200) << during.response.body;
  EXPECT_NE(routeOf(during).find("> b/demo-b@"), std::string::npos);
  EXPECT_LE(during.took, usualTimeBound(usual)) << "baseline " << usual.count() << " ms";
  report("data-plane port", usual, during.took);
  // Strangers never get more than their pending-handshake slots for more than the deadline.
  EXPECT_TRUE(waitUntil([&] { return flood.closedByServer() == kFloodConnections; }, kFirstBytesDeadline + kCloseSlack))
      << flood.closedByServer() << " of " << kFloodConnections << " closed";
}

TEST_F(OverTheWire, FiveThousandIdleConnectionsToThePushPullPortLeaveMembersAlive) {
  SKIP_UNLESS_FDS_FOR_A_FLOOD();
  ConnectionFlood flood(a().gossipPort(), kFloodConnections);
  ASSERT_EQ(flood.waitEstablished(seconds(20)), kFloodConnections);
  bool alive = true;
  const bool allClosed = waitUntil([&] {
    alive = alive && bothAlive();
    return flood.closedByServer() == kFloodConnections;
  }, kFirstBytesDeadline + kCloseSlack, milliseconds(100));
  EXPECT_TRUE(allClosed) << flood.closedByServer() << " of " << kFloodConnections << " closed";
  EXPECT_TRUE(alive) << "a member was suspected during the flood";
  EXPECT_TRUE(bothAlive());
}

// The supervisor's control API (what the router polls) under the same idle flood: it still
// answers /status in its usual time.
TEST_F(OverTheWire, FiveThousandIdleConnectionsToTheControlPortLeaveStatusItsUsualTime) {
  SKIP_UNLESS_FDS_FOR_A_FLOOD();
  const std::string url = "http://127.0.0.1:" + std::to_string(a().controlPort()) + "/status";
  auto timedStatus = [&] {
    const auto start = steady_clock::now();
    EXPECT_EQ(httpGet(url).status, 200);
    return duration_cast<milliseconds>(steady_clock::now() - start);
  };
  const auto usual = timedStatus();
  ConnectionFlood flood(a().controlPort(), kFloodConnections);
  ASSERT_EQ(flood.waitEstablished(seconds(20)), kFloodConnections);
  const auto during = timedStatus();
  EXPECT_LE(during, usualTimeBound(usual));
  report("control port", usual, during);
}
