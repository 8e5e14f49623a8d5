#include "router/membership/gossip.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace qmesh::membership {
namespace {

bool isLive(const Member* m) {
  return m && (m->state == MemberState::kAlive || m->state == MemberState::kSuspect);
}

bool isProbeMessage(const Message& m) {
  return std::holds_alternative<Ping>(m) || std::holds_alternative<PingReq>(m) ||
         std::holds_alternative<Ack>(m);
}

}  // namespace

Gossip::Gossip(GossipConfig config, Member self, ClaimAuthority& claims, Transport& transport,
               const Clock& clock, Random& random)
    : config_(config), claims_(claims), transport_(transport), clock_(clock), random_(random),
      table_(self) {
  for (const Status& valid : {config_.validate(), validateMember(self)}) {
    if (valid) continue;
    std::fprintf(stderr, "qmesh: gossip engine misconfigured: %s\n", valid.error().message.c_str());
    std::abort();
  }
  table_.setSelfSignature(claims_.signAlive(table_.self()));
  // Peers would drop every claim of ours: better to say so once, loudly, at startup.
  if (!claims_.verifyAlive(table_.self())) {
    std::fprintf(stderr, "qmesh: gossip engine misconfigured: the identity that signs claims is "
                         "not member %s's\n", self.id.shortHex().c_str());
    std::abort();
  }
  const TimePoint now = clock_.now();
  // A random phase, so that nodes started together do not probe in lockstep.
  nextProbe_ = now + Duration(static_cast<Duration::rep>(
                         random_.below(static_cast<uint64_t>(config_.probeInterval.count()))));
  nextGossip_ = now + config_.gossipInterval;
  // Likewise for the sync, or a mesh started at once would push-pull all at once, forever.
  nextSync_ = now + Duration(static_cast<Duration::rep>(random_.below(
                        static_cast<uint64_t>(std::max(syncIntervalScaled().count(), Duration::rep{1})))));
  nextJoin_ = TimePoint::max();
  transport_.setReceiveHandler(
      [this](const Address& from, std::span<const uint8_t> data) { onDatagram(from, data); });
}

Gossip::~Gossip() { transport_.setReceiveHandler(nullptr); }

// ---- owner-facing ----------------------------------------------------------------------

void Gossip::join(std::vector<Address> seeds) {
  seeds.erase(std::remove(seeds.begin(), seeds.end(), transport_.localAddress()), seeds.end());
  seeds_ = std::move(seeds);
  // Our alive rides on our first probes too, so members the seed's gossip misses still
  // hear of us first-hand.
  announceSelf();
  for (const Address& seed : seeds_) sendState(seed, true);
  nextJoin_ = clock_.now() + config_.joinRetryInterval;
}

void Gossip::leave() {
  if (table_.leaving()) return;
  const Member& me = table_.leaveSelf();
  const Leave goodbye{me.id, me.incarnation, claims_.signLeave(me.id, me.incarnation)};
  table_.setSelfLeaveSignature(goodbye.signature);
  broadcast(table_.selfId(), goodbye);
  probe_.reset();
  gossipRound();  // tell a few members now rather than at the next gossip tick
}

bool Gossip::leaveDone() const {
  if (!table_.leaving()) return false;
  if (table_.liveCount() == 0) return true;  // nobody left to tell
  const int sent = queue_.transmits(table_.selfId());
  return sent < 0 || sent >= std::min<int>(config_.gossipFanout, static_cast<int>(table_.liveCount()));
}

Status Gossip::updateMeta(std::vector<uint8_t> meta) {
  Member candidate = table_.self();
  candidate.meta = meta;
  if (auto valid = validateMember(candidate); !valid) return valid;
  table_.updateSelfMeta(std::move(meta));
  announceSelf();
  return Ok{};
}

void Gossip::tick() {
  const TimePoint now = clock_.now();
  if (now >= nextProbe_) {
    finishProbe();
    if (!table_.leaving()) startProbe();
    nextProbe_ += config_.probeInterval;
    if (nextProbe_ <= now) nextProbe_ = now + config_.probeInterval;  // we were ticked late
  }
  if (probe_ && !probe_->indirectSent && now >= probe_->indirectAt) sendIndirect();
  expireSuspicions();
  if (now >= nextGossip_) {
    gossipRound();
    nextGossip_ = now + config_.gossipInterval;
  }
  if (config_.syncInterval > Duration::zero() && now >= nextSync_) {
    syncRound();
    nextSync_ = now + syncIntervalScaled();
  }
  if (!recentDead_.empty() && now >= nextDeadRetry_) {
    retryRecentDead();
    nextDeadRetry_ = now + config_.deadRetryInterval;
  }
  if (!seeds_.empty() && now >= nextJoin_) {
    if (table_.liveCount() <= 1 && !table_.leaving())
      for (const Address& seed : seeds_) sendState(seed, true);
    nextJoin_ = now + config_.joinRetryInterval;
  }
  std::erase_if(relays_, [now](const auto& kv) { return kv.second.expires <= now; });
  reapDead();
}

TimePoint Gossip::nextWakeup() const {
  TimePoint t = nextProbe_;
  if (probe_ && !probe_->indirectSent) t = std::min(t, probe_->indirectAt);
  // An idle queue needs no gossip round; when a claim arrives the owner asks again.
  if (!queue_.empty()) t = std::min(t, nextGossip_);
  if (config_.syncInterval > Duration::zero()) t = std::min(t, nextSync_);
  if (!recentDead_.empty()) t = std::min(t, nextDeadRetry_);
  if (!seeds_.empty() && table_.liveCount() <= 1) t = std::min(t, nextJoin_);
  for (const auto& [id, s] : suspicions_) t = std::min(t, s.deadline());
  if (const auto reap = nextReap()) t = std::min(t, *reap);
  return t;
}

// ---- probing ---------------------------------------------------------------------------

void Gossip::startProbe() {
  const auto target = nextProbeTarget();
  if (!target) return;
  const Member* m = table_.find(*target);
  probe_ = Probe{nextSeq_++, *target, clock_.now() + config_.probeTimeout};
  ++stats_.probes;
  std::vector<uint8_t> packet = encodeMessage(Ping{probe_->seq, *target});
  // Lifeguard's buddy system: a suspect hears of its suspicion first-hand from whoever
  // probes it, so it can refute without waiting for gossip to find it.
  if (m->state == MemberState::kSuspect)
    encodeMessage(Suspect{m->id, m->incarnation, table_.selfId()}, packet);
  send(m->address, std::move(packet), true);
}

void Gossip::finishProbe() {
  if (!probe_) return;
  const Probe p = *probe_;
  probe_.reset();
  const Member* m = table_.find(p.target);
  if (!isLive(m)) return;
  // Neither the direct nor any indirect ack arrived within the interval.
  ++stats_.suspicionsRaised;
  onSuspect(Suspect{m->id, m->incarnation, table_.selfId()});
}

void Gossip::sendIndirect() {
  probe_->indirectSent = true;
  const Member* target = table_.find(probe_->target);
  if (!isLive(target)) return;
  ++stats_.indirectProbes;
  const auto relays = randomLiveOthers(static_cast<std::size_t>(config_.indirectChecks),
                                       &probe_->target);
  for (const NodeId& id : relays) {
    send(table_.find(id)->address,
         encodeMessage(PingReq{probe_->seq, target->id, target->address}), true);
  }
}

std::optional<NodeId> Gossip::nextProbeTarget() {
  for (std::size_t attempts = 0; attempts <= probeOrder_.size() + 1; ++attempts) {
    if (probeIndex_ >= probeOrder_.size()) {
      // A fresh shuffle per round: every member is probed once per round (bounded
      // first-detection time), in an order no one can predict.
      probeOrder_ = table_.liveOthers();
      for (std::size_t i = probeOrder_.size(); i > 1; --i)
        std::swap(probeOrder_[i - 1], probeOrder_[random_.below(i)]);
      probeIndex_ = 0;
      if (probeOrder_.empty()) return std::nullopt;
    }
    const NodeId id = probeOrder_[probeIndex_++];
    if (isLive(table_.find(id))) return id;
  }
  return std::nullopt;
}

void Gossip::addProbeTarget(const NodeId& id) {
  // At a random place, as memberlist does, so a new member is probed within one round.
  const std::size_t pos = random_.below(probeOrder_.size() + 1);
  probeOrder_.insert(probeOrder_.begin() + static_cast<std::ptrdiff_t>(pos), id);
  if (pos < probeIndex_) ++probeIndex_;
}

std::vector<NodeId> Gossip::randomLiveOthers(std::size_t k, const NodeId* exclude) {
  std::vector<NodeId> out;
  auto wanted = [&](const NodeId& id) {
    return (!exclude || id != *exclude) && isLive(table_.find(id)) &&
           std::find(out.begin(), out.end(), id) == out.end();
  };
  if (probeOrder_.size() <= 4 * k) {
    std::vector<NodeId> all = table_.liveOthers();
    for (std::size_t i = all.size(); i > 1; --i) std::swap(all[i - 1], all[random_.below(i)]);
    for (const NodeId& id : all)
      if (out.size() < k && wanted(id)) out.push_back(id);
    return out;
  }
  for (std::size_t tries = 0; tries < 4 * k && out.size() < k; ++tries) {
    const NodeId& id = probeOrder_[random_.below(probeOrder_.size())];
    if (wanted(id)) out.push_back(id);
  }
  return out;
}

void Gossip::expireSuspicions() {
  const TimePoint now = clock_.now();
  std::vector<NodeId> expired;
  for (const auto& [id, s] : suspicions_)
    if (s.deadline() <= now) expired.push_back(id);
  for (const NodeId& id : expired) {
    suspicions_.erase(id);
    const Member* m = table_.find(id);
    if (!m || m->state != MemberState::kSuspect) continue;
    ++stats_.deadDeclared;
    onDead(Dead{id, m->incarnation, table_.selfId()});
  }
}

// ---- receiving -------------------------------------------------------------------------

void Gossip::onDatagram(const Address& from, std::span<const uint8_t> data) {
  ++stats_.packetsIn;
  auto packet = decodePacket(data);
  if (!packet) {
    ++stats_.malformed;  // bad input from the network ends the packet, nothing more
    return;
  }
  stats_.unknownMessages += packet->unknownSkipped;
  // Claims first, then the probe traffic: an ack then carries whatever the claims made us
  // say (a refutation above all), straight back to the member that needs to hear it.
  bool replyWithState = false;
  const NodeId* sender = transport_.authenticatedSender();
  for (const Message& m : packet->messages) {
    if (const auto* sr = std::get_if<SyncRequest>(&m))
      replyWithState = replyWithState || sr->wantReply;
    else if (!isProbeMessage(m))
      handle(from, sender, m);
  }
  for (const Message& m : packet->messages)
    if (isProbeMessage(m)) handle(from, sender, m);
  // After merging what was pushed, so the reply already includes the sender's news.
  if (replyWithState) replyState(from, sender);
}

// The reply goes to the address in the sender's own signed record (the one it just pushed,
// or the one we hold), never to `from`: over TCP that is a clear, unauthenticated field of
// the frame, and our whole state sent wherever it points would make us a reflector. A
// sender we hold no record of gets no reply. Without an authenticated sender (simulations
// on a bare network) `from` is all there is.
void Gossip::replyState(const Address& from, const NodeId* sender) {
  if (!sender) return sendState(from, false);
  const Member* m = table_.find(*sender);
  if (!m || m->id == table_.selfId()) {
    ++stats_.syncRepliesRefused;
    return;
  }
  sendState(m->address, false);
}

void Gossip::handle(const Address& from, const NodeId* sender, const Message& msg) {
  if (const auto* p = std::get_if<Ping>(&msg)) {
    if (p->target.isZero() || p->target == table_.selfId())
      send(from, encodeMessage(Ack{p->seq}), true);
    else
      ++stats_.misdirectedPings;  // the address now belongs to someone else
  } else if (const auto* r = std::get_if<PingReq>(&msg)) {
    const uint32_t seq = nextSeq_++;
    relays_[seq] = Relay{from, r->seq, clock_.now() + config_.probeInterval};
    send(r->targetAddress, encodeMessage(Ping{seq, r->target}), true);
  } else if (const auto* a = std::get_if<Ack>(&msg)) {
    if (probe_ && probe_->seq == a->seq) {
      probe_.reset();
    } else if (auto it = relays_.find(a->seq); it != relays_.end()) {
      send(it->second.origin, encodeMessage(Ack{it->second.originSeq}), true);
      relays_.erase(it);
    }
  } else if (const auto* s = std::get_if<Suspect>(&msg)) {
    onSuspect(*s, sender);
  } else if (const auto* al = std::get_if<Alive>(&msg)) {
    if (admitRecord(al->member)) onAlive(al->member);
  } else if (const auto* d = std::get_if<Dead>(&msg)) {
    onDead(*d);
  } else if (const auto* l = std::get_if<Leave>(&msg)) {
    if (admitLeave(*l)) onLeave(*l);
  } else if (const auto* st = std::get_if<SyncState>(&msg)) {
    onSyncState(st->member, sender);
  }
}

// ---- sending ---------------------------------------------------------------------------

void Gossip::send(const Address& to, std::vector<uint8_t> packet, bool piggyback) {
  const std::size_t max = transport_.maxPayload();
  if (piggyback && packet.size() < max)
    queue_.fill(packet, max - packet.size(),
                retransmitLimit(config_.retransmitMult, table_.liveCount()));
  if (packet.empty()) return;
  transport_.send(to, packet);
}

void Gossip::notify(const NodeId& id, MemberState previous, bool isNew) {
  const Member& m = *table_.find(id);
  updateGraveyard(m);
  updateRecentDead(m);
  if (listener_) listener_(m, previous, isNew);
}

}  // namespace qmesh::membership
