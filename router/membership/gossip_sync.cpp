// Dissemination and anti-entropy: gossip rounds for queued claims, the periodic full-state
// sync (push-pull), and forgetting members that have been dead or gone long enough.
#include <algorithm>
#include <cmath>

#include "router/membership/gossip.h"

namespace qmesh::membership {
namespace {

constexpr std::size_t kReliableFramingMargin = 1024;

}  // namespace

void Gossip::gossipRound() {
  if (queue_.empty()) return;
  for (const NodeId& id : randomLiveOthers(static_cast<std::size_t>(config_.gossipFanout), nullptr))
    send(table_.find(id)->address, {}, true);
}

void Gossip::syncRound() {
  const auto peer = randomLiveOthers(1, nullptr);
  if (!peer.empty()) sendState(table_.find(peer[0])->address, true);
  // Also reach out to one member we believe dead: after a partition heals, nobody probes
  // across it, and this is how the two sides find each other again.
  std::vector<const Member*> dead;
  for (const auto& [id, m] : table_.all())
    if (m.state == MemberState::kDead) dead.push_back(&m);
  if (!dead.empty()) sendState(dead[random_.below(dead.size())]->address, true);
  // And to one seed we do not see alive: a partition that outlasted deadRetention has
  // forgotten the other side, and the seeds are the addresses we still know.
  if (table_.leaving()) return;
  std::vector<const Address*> lost;
  for (const Address& seed : seeds_) {
    const bool live = std::any_of(table_.all().begin(), table_.all().end(), [&](const auto& kv) {
      return kv.first != table_.selfId() && kv.second.address == seed &&
             (kv.second.state == MemberState::kAlive || kv.second.state == MemberState::kSuspect);
    });
    if (!live) lost.push_back(&seed);
  }
  if (!lost.empty()) sendState(*lost[random_.below(lost.size())], true);
}

// A crashed member often comes straight back (a supervisor restart, kill -9 and start): its
// old address is where to find it, and waiting for syncRound's one dead member per 30 s
// would leave it alone that long if it restarted with no seeds that are up.
void Gossip::updateRecentDead(const Member& m) {
  if (m.state != MemberState::kDead || config_.deadRetryWindow == Duration::zero()) {
    recentDead_.erase(m.id);
    return;
  }
  const TimePoint now = clock_.now();
  // The first retry one interval after the verdict: at the verdict it is surely still down.
  if (recentDead_.empty()) nextDeadRetry_ = now + config_.deadRetryInterval;
  recentDead_[m.id] = now + config_.deadRetryWindow;
}

void Gossip::retryRecentDead() {
  const TimePoint now = clock_.now();
  std::erase_if(recentDead_, [&](const auto& kv) {
    const Member* m = table_.find(kv.first);
    return kv.second <= now || !m || m->state != MemberState::kDead;
  });
  if (recentDead_.empty() || table_.leaving()) return;
  // One per round, like the sync: a mass failure costs one attempt per interval, not N.
  auto it = std::next(recentDead_.begin(), static_cast<std::ptrdiff_t>(random_.below(recentDead_.size())));
  sendState(table_.find(it->first)->address, true);
}

void Gossip::sendState(const Address& to, bool wantReply) {
  signSelf();  // our record goes out whole: it must carry its current proof
  std::vector<uint8_t> packet = encodeMessage(SyncRequest{wantReply});
  if (transport_.supportsReliable()) {
    // One message, however many members: the receiver merges a consistent snapshot, and
    // a 1,000-member state is one TCP exchange instead of ~250 datagrams to lose.
    for (const auto& [id, m] : table_.all()) encodeMessage(SyncState{m}, packet);
    // kMaxReliable holds ~7,000 maximal records; past that (less a margin for a sealing
    // decorator's framing) the datagram path below still gets the state across.
    if (packet.size() <= kMaxReliable - kReliableFramingMargin) {
      ++stats_.pushPulls;
      transport_.sendReliable(to, packet);
      return;
    }
    packet = encodeMessage(SyncRequest{wantReply});
  }
  const std::size_t max = transport_.maxPayload();
  std::vector<uint8_t> record;
  for (const auto& [id, m] : table_.all()) {
    record.clear();
    encodeMessage(SyncState{m}, record);
    if (packet.size() + record.size() > max) {
      ++stats_.syncDatagrams;
      send(to, std::exchange(packet, {}), false);
    }
    packet.insert(packet.end(), record.begin(), record.end());
  }
  ++stats_.syncDatagrams;
  send(to, std::move(packet), false);
}

Duration Gossip::syncIntervalScaled() const {
  // memberlist's pushPullScale: one more multiple for every doubling past 32 members, so
  // full-state traffic per node stays roughly flat as the cluster grows.
  const double n = static_cast<double>(table_.liveCount());
  if (n <= 32) return config_.syncInterval;
  const auto mult = static_cast<int>(std::ceil(std::log2(n) - std::log2(32.0))) + 1;
  return config_.syncInterval * mult;
}

// ---- forgetting the dead ---------------------------------------------------------------

void Gossip::updateGraveyard(const Member& m) {
  if (config_.deadRetention == Duration::zero()) return;
  if (m.state == MemberState::kDead || m.state == MemberState::kLeft)
    graveyard_[m.id] = clock_.now() + config_.deadRetention;  // a leave after death restarts it
  else
    graveyard_.erase(m.id);  // back from the dead
}

void Gossip::reapDead() {
  const TimePoint now = clock_.now();
  std::vector<Member> reaped;
  for (auto it = graveyard_.begin(); it != graveyard_.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    const Member* m = table_.find(it->first);
    if (m) {
      Member last = *m;
      if (table_.remove(it->first)) reaped.push_back(std::move(last));
    }
    recentDead_.erase(it->first);
    it = graveyard_.erase(it);
  }
  // Told after the table is consistent, so a listener may look at members() freely.
  for (const Member& m : reaped) {
    ++stats_.reaped;
    if (reapListener_) reapListener_(m);
  }
}

std::optional<TimePoint> Gossip::nextReap() const {
  std::optional<TimePoint> next;
  for (const auto& [id, at] : graveyard_)
    if (!next || at < *next) next = at;
  return next;
}

}  // namespace qmesh::membership
