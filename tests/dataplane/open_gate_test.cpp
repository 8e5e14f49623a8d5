// OpenGate: at most N channel opens in flight to one peer, the rest wait in arrival order
// and give up at their deadline. One io_context, real timers, no sleeps.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "router/dataplane/open_gate.h"
#include "tests/dataplane/test_loop.h"

namespace qmesh::dataplane {
namespace {

using namespace test;
using Ticket = OpenGate::Ticket;

// One enter() whose ticket, once granted, is kept here until the test drops it.
struct GateEntry {
  std::optional<Ticket> ticket;
  bool finished = false;
};

std::shared_ptr<GateEntry> enterGate(net::io_context& io, OpenGate& gate, const NodeId& peer,
                                     std::chrono::milliseconds patience = 10s) {
  auto entry = std::make_shared<GateEntry>();
  net::co_spawn(
      io,
      [&gate, peer, patience, entry]() -> net::awaitable<void> {
        auto t = co_await gate.enter(peer, std::chrono::steady_clock::now() + patience);
        if (t) entry->ticket.emplace(std::move(*t));
        entry->finished = true;
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  return entry;
}

const NodeId kPeer = identityFromByte(7).id();
const NodeId kOtherPeer = identityFromByte(8).id();

TEST(OpenGateTest, OpensBeyondTheCapWaitUntilOneEnds) {
  OpenGate gate(2);
  net::io_context io;
  auto a = enterGate(io, gate, kPeer), b = enterGate(io, gate, kPeer), c = enterGate(io, gate, kPeer);
  ASSERT_TRUE(runUntil(io, [&] { return a->finished && b->finished && gate.waiting(kPeer) == 1; }));
  EXPECT_TRUE(a->ticket && b->ticket);
  EXPECT_FALSE(c->finished);
  EXPECT_EQ(gate.opening(kPeer), 2u);

  a->ticket.reset();  // that open ended
  ASSERT_TRUE(runUntil(io, [&] { return c->finished; }));
  EXPECT_TRUE(c->ticket);
  EXPECT_EQ(gate.opening(kPeer), 2u);
  EXPECT_EQ(gate.waiting(kPeer), 0u);
}

TEST(OpenGateTest, WaitersTakeTheirTurnInArrivalOrderAheadOfNewcomers) {
  OpenGate gate(1);  // before io: frames still waiting when io goes leave this gate's queue
  net::io_context io;
  auto holder = enterGate(io, gate, kPeer);
  ASSERT_TRUE(runUntil(io, [&] { return holder->finished; }));
  std::vector<std::shared_ptr<GateEntry>> queue;
  for (int i = 0; i < 3; ++i) {
    queue.push_back(enterGate(io, gate, kPeer));
    ASSERT_TRUE(runUntil(io, [&] { return gate.waiting(kPeer) == queue.size(); }));
  }
  holder->ticket.reset();
  // A newcomer that arrives while the freed slot is on its way to the first waiter queues.
  queue.push_back(enterGate(io, gate, kPeer));
  for (std::size_t i = 0; i < queue.size(); ++i) {
    ASSERT_TRUE(runUntil(io, [&] { return queue[i]->finished; })) << "waiter " << i;
    EXPECT_TRUE(queue[i]->ticket) << "waiter " << i;
    for (std::size_t later = i + 1; later < queue.size(); ++later)
      EXPECT_FALSE(queue[later]->finished) << "waiter " << later << " went before waiter " << i;
    queue[i]->ticket.reset();
  }
}

TEST(OpenGateTest, AWaiterGivesUpAtItsDeadlineAndLeavesTheQueue) {
  OpenGate gate(1);
  net::io_context io;
  auto holder = enterGate(io, gate, kPeer);
  auto impatient = enterGate(io, gate, kPeer, 50ms);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(runUntil(io, [&] { return impatient->finished; }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
  EXPECT_FALSE(impatient->ticket);
  EXPECT_EQ(gate.waiting(kPeer), 0u);
  EXPECT_EQ(gate.opening(kPeer), 1u);
  holder->ticket.reset();
  EXPECT_EQ(gate.opening(kPeer), 0u);
}

TEST(OpenGateTest, EachPeerHasItsOwnCap) {
  OpenGate gate(1);
  net::io_context io;
  auto a = enterGate(io, gate, kPeer), b = enterGate(io, gate, kOtherPeer);
  ASSERT_TRUE(runUntil(io, [&] { return a->finished && b->finished; }));
  EXPECT_TRUE(a->ticket && b->ticket);
}

}  // namespace
}  // namespace qmesh::dataplane
