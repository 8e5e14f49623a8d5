// How the engine applies incoming claims (the rules themselves are in member_table.cpp):
// which self-claims need their signature checked, which changes start or end a suspicion,
// what is re-gossiped, and when we speak up for ourselves.
#include <chrono>

#include "router/membership/gossip.h"

namespace qmesh::membership {

// Checked only when the claim could change something: a record we already hold (or an
// older one) is ignored by the merge anyway, and every claim arrives many times over
// (piggybacked lambda * log10(N) times, plus every sync), so this keeps Ed25519 to about
// one verification per member change per node.
bool Gossip::admitRecord(const Member& record) {
  if (!table_.aliveWouldApply(record)) return true;
  // A member signs whatever it likes about itself: its name and address must still be fit
  // for our logs, JSON and sockets (and a forged record is as unusable as a bad one).
  if (!isUsableRecord(record)) {
    ++stats_.unusableRecords;
    return false;
  }
  if (claims_.verifyAlive(record)) return true;
  ++stats_.badSignature;
  return false;
}

bool Gossip::admitLeave(const Leave& leave) {
  if (!table_.leaveWouldApply(leave) || claims_.verifyLeave(leave)) return true;
  ++stats_.badSignature;
  return false;
}

void Gossip::signSelf() {
  const Member& me = table_.self();
  // Leaving, the record stays as last signed; the signed leave speaks for us now.
  if (me.state != MemberState::kAlive || me.signedIncarnation == me.incarnation) return;
  table_.setSelfSignature(claims_.signAlive(me));
}

void Gossip::onAlive(const Member& m) {
  Member claim = m;
  claim.state = MemberState::kAlive;
  const MergeResult r = table_.applyAlive(claim);
  if (r.outcome == MergeOutcome::kApplied) {
    suspicions_.erase(m.id);  // refuted, or back from the dead
    if (r.isNew) addProbeTarget(m.id);
  }
  afterMerge(m.id, r, Alive{claim});
}

void Gossip::onSuspect(const Suspect& s, const NodeId* sender) {
  // The accuser is believed only when it is the member that sent us the claim: the `from` of
  // a relayed claim is unverifiable (suspicions are unsigned), and a member holding the mesh
  // key could otherwise name k others as accusers and cut the subject's time to refute to
  // Lifeguard's minimum. Relays still spread a suspicion, counted under the sender instead.
  // (The sender is authenticated by the mesh key only: a member willing to seal packets under
  // others' ids gets past this too; closing that needs the envelope signed by the sender's
  // identity, which it is not yet.)
  const bool firstHand = !sender || *sender == s.from;
  if (!firstHand) ++stats_.relayedAccusations;
  const MergeResult r = table_.applySuspect(s);
  if (r.outcome == MergeOutcome::kApplied) {
    const std::size_t n = table_.liveCount();
    const Duration min = suspicionMinTimeout(config_.suspicionAlpha, n, config_.probeInterval);
    const auto max = std::chrono::duration_cast<Duration>(min * config_.suspicionBeta);
    suspicions_.erase(s.id);
    suspicions_.emplace(s.id, Suspicion(clock_.now(), min, max, expectedConfirmations(config_.suspicionAlpha, n),
                                        firstHand ? s.from : *sender));
  } else if (r.outcome == MergeOutcome::kConfirmation) {
    auto it = suspicions_.find(s.id);
    // Re-gossip only new accusers: they are what shortens everyone else's timeout.
    if (firstHand && it != suspicions_.end() && it->second.confirm(s.from)) broadcast(s.id, s);
    return;
  }
  afterMerge(s.id, r, s);
}

void Gossip::onDead(const Dead& d) {
  const MergeResult r = table_.applyDead(d);
  if (r.outcome == MergeOutcome::kApplied) suspicions_.erase(d.id);
  afterMerge(d.id, r, d);
}

void Gossip::onLeave(const Leave& l) {
  const MergeResult r = table_.applyLeave(l);
  if (r.outcome == MergeOutcome::kApplied) suspicions_.erase(l.id);
  afterMerge(l.id, r, l);
}

void Gossip::onSyncState(const Member& m, const NodeId* sender) {
  const bool known = table_.find(m.id) != nullptr;
  if (!known && m.id != table_.selfId() &&
      (m.state == MemberState::kDead || m.state == MemberState::kLeft))
    return;  // a member we never saw alive (or already forgot): nothing to act on
  // The member's own signed record first; the state is the sender's view on top of it.
  Member record = m;
  record.incarnation = m.signedIncarnation;
  record.state = MemberState::kAlive;
  if (!admitRecord(record)) return;  // a forged record: its state claim goes with it
  onAlive(record);
  switch (m.state) {
    case MemberState::kAlive:
      break;
    case MemberState::kSuspect:
    case MemberState::kDead:
      // As memberlist does: another member's "dead" is only a suspicion here, so a member
      // that is fine from where we stand gets the chance to refute before we agree.
      // The sender's view, in the sender's name: we did not see the failure ourselves.
      onSuspect(sender ? Suspect{m.id, m.incarnation, *sender} : Suspect{m.id, m.incarnation, table_.selfId()},
                sender);
      break;
    case MemberState::kLeft: {
      const Leave leave{m.id, m.incarnation, m.leaveSignature};
      if (admitLeave(leave)) onLeave(leave);
      break;
    }
  }
}

void Gossip::afterMerge(const NodeId& subject, const MergeResult& r, const Message& claim) {
  if (r.outcome == MergeOutcome::kIgnored && subject == table_.selfId() && !table_.leaving() &&
      !std::holds_alternative<Alive>(claim)) {
    // Someone still accuses an incarnation of ours we have already refuted: our refutation
    // missed them. If its retransmits are spent, say it again before their timer runs out;
    // it rides on our next packets, the ack to their probe among them. (If it is still
    // queued it will ride anyway; re-queuing would restart its budget and flood.)
    if (queue_.transmits(subject) < 0) announceSelf();
    return;
  }
  if (r.outcome == MergeOutcome::kApplied) {
    broadcast(subject, claim);
    notify(subject, r.previous, r.isNew);
  } else if (r.outcome == MergeOutcome::kRefuted) {
    ++stats_.refutations;
    announceSelf();
  }
}

void Gossip::announceSelf() {
  signSelf();
  broadcast(table_.selfId(), Alive{table_.self()});
}

void Gossip::broadcast(const NodeId& subject, const Message& claim) {
  queue_.enqueue(subject, encodeMessage(claim));
}

}  // namespace qmesh::membership
