#include "router/dataplane/channel_pool.h"

#include <algorithm>

namespace qmesh::dataplane {

void ChannelPool::prune(std::vector<Idle>& list, TimePoint now) {
  std::erase_if(list, [&](Idle& e) {
    if (now - e.since >= options_.maxIdle) {
      ++counters_.expired;
    } else if (!e.channel->quiescent()) {
      ++counters_.stale;
    } else {
      return false;
    }
    e.channel->close();
    return true;
  });
}

void ChannelPool::watch(const NodeId& peer, SecureChannel* channel) {
  channel->socket().async_wait(tcp::socket::wait_read,
                               [this, alive = std::weak_ptr<int>(alive_), peer, channel](error_code ec) {
                                 if (!ec && !alive.expired()) onReadable(peer, channel);
                               });
}

void ChannelPool::onReadable(const NodeId& peer, SecureChannel* channel) {
  auto it = idle_.find(peer);
  if (it == idle_.end()) return;
  auto& list = it->second;
  // Matched by address: a channel taken since then is no longer listed, so it is left alone.
  auto e = std::find_if(list.begin(), list.end(), [&](const Idle& i) { return i.channel.get() == channel; });
  if (e == list.end()) return;
  if (e->channel->quiescent()) return watch(peer, channel);  // woken for nothing
  ++counters_.stale;
  e->channel->close();
  list.erase(e);
  if (list.empty()) idle_.erase(it);
}

std::unique_ptr<SecureChannel> ChannelPool::take(const NodeId& peer, TimePoint now) {
  auto it = idle_.find(peer);
  if (it == idle_.end()) return nullptr;
  prune(it->second, now);
  if (it->second.empty()) {
    idle_.erase(it);
    return nullptr;
  }
  auto channel = std::move(it->second.back().channel);
  it->second.pop_back();
  if (it->second.empty()) idle_.erase(it);
  error_code ignored;
  channel->socket().cancel(ignored);  // ends the idle watch; nothing else is pending
  ++counters_.reused;
  return channel;
}

void ChannelPool::put(std::unique_ptr<SecureChannel> channel, TimePoint now) {
  if (!channel) return;
  if (!channel->quiescent()) {
    ++counters_.stale;
    channel->close();
    return;
  }
  auto& list = idle_[channel->peer()];
  prune(list, now);
  if (list.size() >= options_.maxIdlePerPeer) {
    // The oldest goes: it is the likeliest to expire before it is used again.
    ++counters_.overflow;
    list.front().channel->close();
    list.erase(list.begin());
  }
  watch(channel->peer(), channel.get());
  list.push_back(Idle{std::move(channel), now});
  ++counters_.returned;
}

void ChannelPool::dropPeer(const NodeId& peer) {
  auto it = idle_.find(peer);
  if (it == idle_.end()) return;
  for (auto& e : it->second) e.channel->close();
  counters_.dropped += it->second.size();
  idle_.erase(it);
}

ChannelPool::InFlight& ChannelPool::InFlight::operator=(InFlight&& o) noexcept {
  if (this != &o) {
    release();
    registry_ = std::move(o.registry_);
    o.registry_.reset();
    id_ = o.id_;
  }
  return *this;
}

void ChannelPool::InFlight::release() {
  if (auto r = registry_.lock()) r->erase(id_);
  registry_.reset();
}

ChannelPool::InFlight ChannelPool::trackInFlight(const NodeId& peer, SecureChannel& channel) {
  InFlight g;
  g.id_ = nextInFlight_++;
  g.registry_ = inFlight_;
  inFlight_->emplace(g.id_, std::make_pair(peer, &channel));
  return g;
}

std::size_t ChannelPool::abortInFlight(const NodeId& peer) {
  std::size_t n = 0;
  // close() only fails pending operations (their handlers run later), so the registry
  // cannot change under this loop.
  for (auto& [id, entry] : *inFlight_)
    if (entry.first == peer && entry.second->isOpen()) {
      entry.second->close();
      ++n;
    }
  counters_.abortedInFlight += n;
  return n;
}

void ChannelPool::clear() {
  while (!idle_.empty()) dropPeer(idle_.begin()->first);
}

std::size_t ChannelPool::idle() const {
  std::size_t n = 0;
  for (const auto& [peer, list] : idle_) n += list.size();
  return n;
}

}  // namespace qmesh::dataplane
