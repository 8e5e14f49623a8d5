#include "router/membership/sim_cluster.h"

namespace qmesh::membership {
namespace {

// Forwards to the wrapped transport and runs `after` once each received datagram has been
// handled, so the harness can ask the engine for its next wakeup.
class NotifyingTransport final : public Transport {
 public:
  NotifyingTransport(std::unique_ptr<Transport> inner, std::function<void()> after)
      : inner_(std::move(inner)), after_(std::move(after)) {}
  void send(const Address& to, std::span<const uint8_t> data) override { inner_->send(to, data); }
  void setReceiveHandler(ReceiveHandler h) override {
    if (!h) {
      inner_->setReceiveHandler(nullptr);
      return;
    }
    inner_->setReceiveHandler([this, h = std::move(h)](const Address& from, std::span<const uint8_t> d) {
      h(from, d);
      after_();
    });
  }
  const Address& localAddress() const override { return inner_->localAddress(); }
  std::size_t maxPayload() const override { return inner_->maxPayload(); }
  bool supportsReliable() const override { return inner_->supportsReliable(); }
  void sendReliable(const Address& to, std::span<const uint8_t> data) override {
    inner_->sendReliable(to, data);
  }

 private:
  std::unique_ptr<Transport> inner_;
  std::function<void()> after_;
};

}  // namespace

SimCluster::SimCluster(std::size_t n, GossipConfig config, uint64_t seed, TransportWrapper wrap,
                       Options options)
    : config_(config), seed_(seed), options_(options), ids_(seed ^ 0x1d5eedULL),
      wrap_(std::move(wrap)), network_(scheduler_, seed) {
  for (std::size_t i = 0; i < n; ++i) addNode();
}

std::size_t SimCluster::addNode() {
  const std::size_t i = nodes_.size();
  auto node = std::make_unique<Node>();
  std::array<uint8_t, 32> keySeed;
  for (auto& b : keySeed) b = static_cast<uint8_t>(ids_.below(256));
  node->identity = std::make_unique<Identity>(Identity::fromSeed(keySeed));
  if (options_.signedClaims)
    node->claims = std::make_unique<Ed25519Claims>(*node->identity);
  else
    node->claims = std::make_unique<UnsignedClaims>();
  node->self.id = node->identity->id();
  node->self.meta.assign(options_.metaBytes, static_cast<uint8_t>(i));
  node->self.name = "node-" + std::to_string(i);
  node->self.address = "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) + ":7946";
  nodes_.push_back(std::move(node));
  build(i);
  return i;
}

SimCluster::~SimCluster() {
  for (auto& n : nodes_) n->gossip.reset();  // engines detach before their transports die
}

void SimCluster::build(std::size_t i) {
  Node& n = *nodes_[i];
  n.gossip.reset();
  n.transport.reset();
  std::unique_ptr<Transport> t = network_.attach(n.self.address);
  if (wrap_) t = wrap_(i, n.self, std::move(t));
  n.transport = std::make_unique<NotifyingTransport>(std::move(t), [this, i] { reschedule(i); });
  // Per-node streams from the one seed; a restarted node gets a new stream.
  n.random = std::make_unique<SeededRandom>(seed_ * 1000003ULL + i * 7919ULL + scheduler_.eventsRun());
  n.gossip = std::make_unique<Gossip>(config_, n.self, *n.claims, *n.transport, scheduler_, *n.random);
  n.gossip->setListener([this, i](const Member& m, MemberState previous, bool) {
    if (hook_) hook_(i, m, previous);
  });
  n.scheduled = TimePoint::max();
  reschedule(i);
}

void SimCluster::reschedule(std::size_t i) {
  Node& n = *nodes_[i];
  if (n.down || !n.gossip) return;
  const TimePoint t = n.gossip->nextWakeup();
  if (t < n.scheduled) wake(i, t);
}

void SimCluster::wake(std::size_t i, TimePoint at) {
  nodes_[i]->scheduled = at;
  Gossip* engine = nodes_[i]->gossip.get();
  scheduler_.at(at, [this, i, at, engine] {
    Node& n = *nodes_[i];
    // Superseded by an earlier wakeup, or the engine was replaced by a restart.
    if (n.down || n.gossip.get() != engine || n.scheduled != at) return;
    n.scheduled = TimePoint::max();
    n.gossip->tick();
    reschedule(i);
  });
}

void SimCluster::joinAll(Duration stagger) {
  for (std::size_t i = 1; i < nodes_.size(); ++i) {
    scheduler_.after(stagger * static_cast<int64_t>(i), [this, i] {
      if (nodes_[i]->down) return;
      nodes_[i]->gossip->join({nodes_[0]->self.address});
      reschedule(i);
    });
  }
}

void SimCluster::join(std::size_t i, std::size_t seed) {
  nodes_[i]->gossip->join({nodes_[seed]->self.address});
  reschedule(i);
}

void SimCluster::kill(std::size_t i) {
  nodes_[i]->down = true;
  network_.setDown(nodes_[i]->self.address, true);
}

void SimCluster::restart(std::size_t i, std::size_t seed) {
  nodes_[i]->down = false;
  network_.setDown(nodes_[i]->self.address, false);
  build(i);
  nodes_[i]->gossip->join({nodes_[seed]->self.address});
  reschedule(i);
}

bool SimCluster::runUntil(const std::function<bool()>& done, Duration limit, Duration step) {
  const TimePoint end = scheduler_.now() + limit;
  while (!done()) {
    if (scheduler_.now() >= end) return false;
    scheduler_.runUntil(std::min(end, scheduler_.now() + step));
  }
  return true;
}

bool SimCluster::converged() const {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i]->down) continue;
    for (std::size_t j = 0; j < nodes_.size(); ++j) {
      if (i == j || nodes_[j]->down) continue;
      const Member* m = nodes_[i]->gossip->members().find(nodes_[j]->self.id);
      if (!m || m->state != MemberState::kAlive) return false;
    }
  }
  return true;
}

std::size_t SimCluster::countSeeing(std::size_t subject, MemberState state) const {
  std::size_t count = 0;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (i == subject || nodes_[i]->down) continue;
    const Member* m = nodes_[i]->gossip->members().find(nodes_[subject]->self.id);
    if (m && m->state == state) ++count;
  }
  return count;
}

bool SimCluster::allSee(std::size_t subject, MemberState state) const {
  std::size_t observers = 0;
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (i != subject && !nodes_[i]->down) ++observers;
  return countSeeing(subject, state) == observers;
}

}  // namespace qmesh::membership
