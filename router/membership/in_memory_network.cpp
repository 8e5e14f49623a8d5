#include "router/membership/in_memory_network.h"

#include <vector>

namespace qmesh::membership {

class InMemoryNetwork::Endpoint final : public Transport {
 public:
  Endpoint(InMemoryNetwork& net, Address address) : net_(net), address_(std::move(address)) {}
  ~Endpoint() override { net_.endpoints_.erase(address_); }

  void send(const Address& to, std::span<const uint8_t> data) override {
    net_.send(address_, to, data, maxPayload());
  }
  void setReceiveHandler(ReceiveHandler handler) override { handler_ = std::move(handler); }
  const Address& localAddress() const override { return address_; }
  bool supportsReliable() const override { return net_.reliable_; }
  void sendReliable(const Address& to, std::span<const uint8_t> data) override {
    net_.sendReliable(address_, to, data);
  }

  void deliver(const Address& from, std::span<const uint8_t> data) {
    if (handler_) handler_(from, data);
  }
  bool listening() const { return static_cast<bool>(handler_); }

 private:
  InMemoryNetwork& net_;
  Address address_;
  ReceiveHandler handler_;
};

InMemoryNetwork::InMemoryNetwork(SimScheduler& scheduler, uint64_t seed)
    : scheduler_(scheduler), random_(seed) {}

InMemoryNetwork::~InMemoryNetwork() = default;

std::unique_ptr<Transport> InMemoryNetwork::attach(const Address& address) {
  auto ep = std::make_unique<Endpoint>(*this, address);
  endpoints_[address] = ep.get();
  return ep;
}

void InMemoryNetwork::setDelay(Duration fixed, Duration jitter) {
  delay_ = fixed;
  jitter_ = jitter;
}

void InMemoryNetwork::partition(const std::vector<std::vector<Address>>& groups) {
  group_.clear();
  for (std::size_t g = 0; g < groups.size(); ++g)
    for (const Address& a : groups[g]) group_[a] = static_cast<int>(g) + 1;
}

void InMemoryNetwork::blockLink(const Address& a, const Address& b) {
  blocked_.insert({a, b});
  blocked_.insert({b, a});
}

void InMemoryNetwork::unblockLink(const Address& a, const Address& b) {
  blocked_.erase({a, b});
  blocked_.erase({b, a});
}

void InMemoryNetwork::setDown(const Address& address, bool down) {
  if (down) down_.insert(address); else down_.erase(address);
}

uint64_t InMemoryNetwork::bytesSentBy(const Address& address) const {
  auto it = bytesBy_.find(address);
  return it == bytesBy_.end() ? 0 : it->second;
}

int InMemoryNetwork::groupOf(const Address& a) const {
  auto it = group_.find(a);
  return it == group_.end() ? 0 : it->second;
}

bool InMemoryNetwork::canReach(const Address& from, const Address& to) const {
  // A sender that crashes after sending still gets its datagrams delivered (they are on
  // the wire); a receiver that is down gets nothing.
  if (down_.count(to)) return false;
  if (blocked_.count({from, to})) return false;
  return groupOf(from) == groupOf(to);
}

void InMemoryNetwork::send(const Address& from, const Address& to,
                           std::span<const uint8_t> data, std::size_t maxPayload) {
  if (down_.count(from)) return;  // a crashed node sends nothing, not even counted bytes
  ++stats_.sent;
  if (tap_) tap_(from, to, data);
  if (data.size() > maxPayload) {
    ++stats_.oversize;
    return;
  }
  stats_.bytesSent += data.size();
  bytesBy_[from] += data.size();
  // Draw the loss decision for every datagram, even unreachable ones, so that toggling a
  // partition does not shift the random sequence seen by the rest of the run.
  const bool lost = dropProbability_ > 0 && random_.uniform01() < dropProbability_;
  Duration d = delay_;
  if (jitter_ > Duration::zero())
    d += Duration(static_cast<Duration::rep>(random_.below(static_cast<uint64_t>(jitter_.count()))));
  if (lost) {
    ++stats_.dropped;
    return;
  }
  // Reachability is judged at delivery time too: a partition that starts while a datagram
  // is in flight cuts it, as a pulled cable would.
  scheduler_.after(d, [this, from, to, bytes = std::vector<uint8_t>(data.begin(), data.end())] {
    if (deliverTo(from, to, bytes))
      ++stats_.delivered;
    else
      ++stats_.dropped;
  });
}

void InMemoryNetwork::sendReliable(const Address& from, const Address& to,
                                   std::span<const uint8_t> data) {
  if (down_.count(from)) return;
  ++stats_.reliableSent;
  if (reliableTap_) reliableTap_(from, to, data);
  if (data.size() > kMaxReliable) {
    ++stats_.oversize;
    return;
  }
  stats_.bytesSent += data.size();
  stats_.reliableBytes += data.size();
  bytesBy_[from] += data.size();
  scheduler_.after(delay_, [this, from, to, bytes = std::vector<uint8_t>(data.begin(), data.end())] {
    if (deliverTo(from, to, bytes))
      ++stats_.reliableDelivered;
    else
      ++stats_.reliableDropped;
  });
}

bool InMemoryNetwork::deliverTo(const Address& from, const Address& to, std::span<const uint8_t> data) {
  auto it = endpoints_.find(to);
  if (it == endpoints_.end() || !it->second->listening() || !canReach(from, to)) return false;
  it->second->deliver(from, data);
  return true;
}

}  // namespace qmesh::membership
