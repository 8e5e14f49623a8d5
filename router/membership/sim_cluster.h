// N gossip engines on one InMemoryNetwork and one SimScheduler: the harness shared by the
// membership simulation tests and bench/gossip_sim. Each node ticks exactly when its engine
// asks (nextWakeup), and is re-asked after every datagram it receives, so simulated time
// jumps from event to event. Everything random is derived from one seed: a run replays
// exactly. Node identities are Ed25519 key pairs from that seed; claims are signed and
// checked for real unless the options ask for UnsignedClaims (large runs: see there).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "router/membership/claim_authority.h"
#include "router/membership/gossip.h"
#include "router/membership/in_memory_network.h"
#include "router/membership/sim_scheduler.h"

namespace qmesh::membership {

struct SimOptions {
  bool signedClaims = true;
  // Every node starts with this much metadata (a router's worker list is ~150 bytes).
  std::size_t metaBytes = 0;
};

class SimCluster {
 public:
  // Wraps a node's raw endpoint (e.g. in a SealedTransport); identity = no wrapping.
  using TransportWrapper = std::function<std::unique_ptr<Transport>(
      std::size_t index, const Member& self, std::unique_ptr<Transport>)>;
  // observer saw `member` change from `previous`.
  using ChangeHook =
      std::function<void(std::size_t observer, const Member& member, MemberState previous)>;

  using Options = SimOptions;

  SimCluster(std::size_t n, GossipConfig config, uint64_t seed,
             TransportWrapper wrap = nullptr, Options options = {});
  ~SimCluster();

  SimScheduler& scheduler() { return scheduler_; }
  InMemoryNetwork& network() { return network_; }
  std::size_t size() const { return nodes_.size(); }
  Gossip& node(std::size_t i) { return *nodes_[i]->gossip; }
  const NodeId& id(std::size_t i) const { return nodes_[i]->self.id; }
  const Address& address(std::size_t i) const { return nodes_[i]->self.address; }
  Transport& transport(std::size_t i) { return *nodes_[i]->transport; }
  const Identity& identity(std::size_t i) const { return *nodes_[i]->identity; }
  ClaimAuthority& claims(std::size_t i) { return *nodes_[i]->claims; }
  bool up(std::size_t i) const { return !nodes_[i]->down; }

  void setChangeHook(ChangeHook hook) { hook_ = std::move(hook); }

  // Node 0 is the seed; every other node joins through it, `stagger` apart.
  void joinAll(Duration stagger = std::chrono::milliseconds(10));
  // A new node, running but not joined yet; returns its index.
  std::size_t addNode();
  // Node i joins through `seed` now.
  void join(std::size_t i, std::size_t seed = 0);
  // kill -9: the node stops ticking and the network drops its traffic both ways.
  void kill(std::size_t i);
  // A fresh process with the same identity (incarnation 0), joining through `seed`.
  void restart(std::size_t i, std::size_t seed = 0);

  // Advances simulated time in `step`s until done() or `limit`; returns done(). Checks
  // between steps rather than after every event: the checks are O(N^2).
  bool runUntil(const std::function<bool()>& done, Duration limit,
                Duration step = std::chrono::milliseconds(50));

  // Each up node sees every other up node alive.
  bool converged() const;
  // Every up node other than `subject` sees it in `state`.
  bool allSee(std::size_t subject, MemberState state) const;
  std::size_t countSeeing(std::size_t subject, MemberState state) const;

 private:
  struct Node {
    Member self;
    std::unique_ptr<Identity> identity;
    std::unique_ptr<ClaimAuthority> claims;
    std::unique_ptr<Transport> transport;
    std::unique_ptr<SeededRandom> random;
    std::unique_ptr<Gossip> gossip;
    TimePoint scheduled = TimePoint::max();
    bool down = false;
  };
  void build(std::size_t i);
  void reschedule(std::size_t i);
  void wake(std::size_t i, TimePoint at);

  GossipConfig config_;
  uint64_t seed_;
  Options options_;
  SeededRandom ids_;
  TransportWrapper wrap_;
  SimScheduler scheduler_;
  InMemoryNetwork network_;
  std::vector<std::unique_ptr<Node>> nodes_;
  ChangeHook hook_;
};

}  // namespace qmesh::membership
