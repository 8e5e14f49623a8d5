#include "router/membership/in_memory_network.h"

#include <gtest/gtest.h>

namespace qmesh::membership {
namespace {

using namespace std::chrono_literals;

struct Inbox {
  std::vector<std::pair<Address, std::vector<uint8_t>>> got;
  TimePoint lastAt{};
};

class NetworkTest : public ::testing::Test {
 protected:
  std::unique_ptr<Transport> listen(const Address& a, Inbox& inbox) {
    auto t = net.attach(a);
    t->setReceiveHandler([&inbox, this](const Address& from, std::span<const uint8_t> d) {
      inbox.got.emplace_back(from, std::vector<uint8_t>(d.begin(), d.end()));
      inbox.lastAt = sched.now();
    });
    return t;
  }
  SimScheduler sched;
  InMemoryNetwork net{sched, 7};
  const std::vector<uint8_t> hello{1, 2, 3};
};

TEST_F(NetworkTest, DeliversAfterTheConfiguredDelay) {
  Inbox inA, inB;
  auto a = listen("a", inA);
  auto b = listen("b", inB);
  net.setDelay(5ms);
  const TimePoint sent = sched.now();
  a->send("b", hello);
  sched.runFor(4ms);
  EXPECT_TRUE(inB.got.empty());
  sched.runFor(1ms);
  ASSERT_EQ(inB.got.size(), 1u);
  EXPECT_EQ(inB.got[0].first, "a");
  EXPECT_EQ(inB.got[0].second, hello);
  EXPECT_EQ(inB.lastAt - sent, 5ms);
}

TEST_F(NetworkTest, DropsAtTheConfiguredRateAndReplaysWithTheSameSeed) {
  auto run = [](uint64_t seed) {
    SimScheduler s;
    InMemoryNetwork n(s, seed);
    auto a = n.attach("a");
    auto b = n.attach("b");
    int got = 0;
    b->setReceiveHandler([&](const Address&, std::span<const uint8_t>) { ++got; });
    n.setDropProbability(0.1);
    for (int i = 0; i < 10000; ++i) a->send("b", std::vector<uint8_t>{1});
    s.runFor(1s);
    return got;
  };
  const int got = run(11);
  EXPECT_NEAR(got, 9000, 200);
  EXPECT_EQ(run(11), got);
}

TEST_F(NetworkTest, PartitionBlocksOnlyAcrossGroupsAndHeals) {
  Inbox inA, inB, inC;
  auto a = listen("a", inA);
  auto b = listen("b", inB);
  auto c = listen("c", inC);
  net.partition({{"a", "b"}, {"c"}});
  a->send("b", hello);
  a->send("c", hello);
  c->send("a", hello);
  sched.runFor(1ms);
  EXPECT_EQ(inB.got.size(), 1u);
  EXPECT_TRUE(inC.got.empty());
  EXPECT_TRUE(inA.got.empty());
  net.heal();
  a->send("c", hello);
  sched.runFor(1ms);
  EXPECT_EQ(inC.got.size(), 1u);
}

TEST_F(NetworkTest, BlockedLinkLeavesOtherLinksUp) {
  Inbox inA, inB, inC;
  auto a = listen("a", inA);
  auto b = listen("b", inB);
  auto c = listen("c", inC);
  net.blockLink("a", "b");
  a->send("b", hello);
  b->send("a", hello);
  a->send("c", hello);
  c->send("b", hello);
  sched.runFor(1ms);
  EXPECT_TRUE(inA.got.empty());
  EXPECT_EQ(inB.got.size(), 1u);
  EXPECT_EQ(inC.got.size(), 1u);
}

TEST_F(NetworkTest, DownedNodeNeitherSendsNorReceives) {
  Inbox inA, inB;
  auto a = listen("a", inA);
  auto b = listen("b", inB);
  net.setDown("b", true);
  a->send("b", hello);
  b->send("a", hello);
  sched.runFor(1ms);
  EXPECT_TRUE(inA.got.empty());
  EXPECT_TRUE(inB.got.empty());
  EXPECT_EQ(net.bytesSentBy("b"), 0u);
}

TEST_F(NetworkTest, RefusesDatagramsOverThe1400ByteLimit) {
  Inbox inB;
  auto a = net.attach("a");
  auto b = listen("b", inB);
  a->send("b", std::vector<uint8_t>(kMaxDatagram + 1, 0));
  a->send("b", std::vector<uint8_t>(kMaxDatagram, 0));
  sched.runFor(1ms);
  EXPECT_EQ(net.stats().oversize, 1u);
  EXPECT_EQ(inB.got.size(), 1u);
}

TEST_F(NetworkTest, DatagramToADetachedEndpointIsDropped) {
  auto a = net.attach("a");
  {
    Inbox inB;
    auto b = listen("b", inB);
    a->send("b", hello);
  }
  sched.runFor(1ms);
  EXPECT_EQ(net.stats().dropped, 1u);
}

TEST_F(NetworkTest, ReliableMessageArrivesWholeAfterTheDelayWhateverTheLoss) {
  Inbox inB;
  auto a = net.attach("a");
  auto b = listen("b", inB);
  EXPECT_TRUE(a->supportsReliable());
  net.setDelay(5ms, 3ms);
  net.setDropProbability(1.0);  // every datagram lost; TCP would retransmit
  const std::vector<uint8_t> big(100000, 9);
  const TimePoint sent = sched.now();
  a->sendReliable("b", big);
  a->send("b", hello);
  sched.runFor(10ms);
  ASSERT_EQ(inB.got.size(), 1u);
  EXPECT_EQ(inB.got[0].second, big);
  EXPECT_EQ(inB.lastAt - sent, 5ms);
  EXPECT_EQ(net.stats().reliableDelivered, 1u);
  EXPECT_EQ(net.stats().reliableBytes, big.size());
  EXPECT_EQ(net.bytesSentBy("a"), big.size() + hello.size());
}

TEST_F(NetworkTest, ReliableMessageToAPartitionedOrDownedNodeIsDropped) {
  Inbox inB, inC;
  auto a = net.attach("a");
  auto b = listen("b", inB);
  auto c = listen("c", inC);
  net.partition({{"a"}, {"b", "c"}});
  a->sendReliable("b", hello);
  sched.runFor(1ms);
  net.heal();
  net.setDown("c", true);
  a->sendReliable("c", hello);
  sched.runFor(1ms);
  EXPECT_TRUE(inB.got.empty());
  EXPECT_TRUE(inC.got.empty());
  EXPECT_EQ(net.stats().reliableDropped, 2u);
}

TEST_F(NetworkTest, ReliableChannelCanBeSwitchedOffToTestTheDatagramPath) {
  auto a = net.attach("a");
  net.setReliable(false);
  EXPECT_FALSE(a->supportsReliable());
}

TEST(SimScheduler, RunsEventsInTimeOrderWithTiesInInsertionOrder) {
  SimScheduler s;
  std::vector<int> order;
  const TimePoint t0 = s.now();
  s.after(2ms, [&] { order.push_back(3); });
  s.after(1ms, [&] { order.push_back(1); });
  s.after(1ms, [&] { order.push_back(2); s.after(0ms, [&] { order.push_back(4); }); });
  s.runFor(10ms);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 4, 3}));
  EXPECT_EQ(s.now() - t0, 10ms);
}

TEST(SimScheduler, RunUntilTrueStopsAtTheFirstEventThatSatisfiesIt) {
  SimScheduler s;
  int n = 0;
  for (int i = 1; i <= 5; ++i) s.after(std::chrono::milliseconds(i), [&] { ++n; });
  const TimePoint t0 = s.now();
  EXPECT_TRUE(s.runUntilTrue([&] { return n == 3; }, 1s));
  EXPECT_EQ(s.now() - t0, 3ms);
  EXPECT_FALSE(s.runUntilTrue([&] { return n == 99; }, 1s));
  EXPECT_EQ(s.now() - t0, 1003ms);
}

}  // namespace
}  // namespace qmesh::membership
