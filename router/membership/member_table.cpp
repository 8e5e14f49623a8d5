#include "router/membership/member_table.h"

#include <algorithm>
#include <limits>

namespace qmesh::membership {
namespace {

bool isLive(MemberState s) { return s == MemberState::kAlive || s == MemberState::kSuspect; }

MergeResult applied(MemberState previous, bool isNew = false) {
  return MergeResult{MergeOutcome::kApplied, previous, isNew};
}
constexpr MergeResult kIgnored{};

// Suspect and dead claims are unsigned: anyone with the mesh key can send one. Above the
// subject's latest signed incarnation they would be a verdict on a record the subject never
// announced, and one at 2^32-1 would leave it no higher incarnation to refute with. So an
// accusation may only be about what the subject itself said: its signed record (others),
// or our own current incarnation (us; after a restart, our old signed record arrives by
// sync and is outbid through applyAlive).
bool aboveSignedRecord(uint32_t claimed, const Member& subject, bool isSelf) {
  return claimed > (isSelf ? subject.incarnation : subject.signedIncarnation);
}

}  // namespace

MemberTable::MemberTable(Member self) : self_(self) {
  self.state = MemberState::kAlive;
  members_.emplace(self.id, std::move(self));
  live_ = 1;
}

const Member* MemberTable::find(const NodeId& id) const {
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : &it->second;
}

void MemberTable::setState(Member& m, MemberState s) {
  if (isLive(m.state) && !isLive(s)) --live_;
  if (!isLive(m.state) && isLive(s)) ++live_;
  m.state = s;
}

MergeResult MemberTable::refute(uint32_t claimedIncarnation) {
  if (leaving_) return kIgnored;
  Member& me = members_.at(self_.id);
  // Strictly above the claim, so our alive outranks it everywhere it has spread. Never by
  // wrapping to 0: that alive would rank below every claim about us. Only a record we signed
  // ourselves can be this high (unsigned claims stop at our incarnation, see
  // aboveSignedRecord), and 2^32 signed changes do not happen; if one somehow is, we stay
  // accused rather than restart our history.
  const uint32_t base = std::max(me.incarnation, claimedIncarnation);
  if (base == std::numeric_limits<uint32_t>::max()) return kIgnored;
  me.incarnation = base + 1;
  return MergeResult{MergeOutcome::kRefuted, MemberState::kAlive, false};
}

MergeResult MemberTable::applyAlive(const Member& claim) {
  if (claim.id == self_.id) {
    return aliveWouldApply(claim) ? refute(claim.incarnation) : kIgnored;
  }
  auto it = members_.find(claim.id);
  if (it == members_.end()) {
    Member m = claim;
    m.state = MemberState::kAlive;
    m.signedIncarnation = claim.incarnation;
    members_.emplace(m.id, std::move(m));
    ++live_;
    return applied(MemberState::kAlive, true);
  }
  Member& cur = it->second;
  if (claim.incarnation <= cur.incarnation) return kIgnored;
  const MemberState previous = cur.state;
  cur.name = claim.name;
  cur.address = claim.address;
  cur.meta = claim.meta;
  cur.incarnation = claim.incarnation;
  cur.signedIncarnation = claim.incarnation;
  cur.signature = claim.signature;
  setState(cur, MemberState::kAlive);
  return applied(previous);
}

MergeResult MemberTable::applySuspect(const Suspect& claim) {
  if (claim.id == self_.id) {
    if (claim.incarnation < self().incarnation || aboveSignedRecord(claim.incarnation, self(), true))
      return kIgnored;
    return refute(claim.incarnation);
  }
  auto it = members_.find(claim.id);
  if (it == members_.end()) return kIgnored;
  Member& cur = it->second;
  if (claim.incarnation < cur.incarnation || !isLive(cur.state) ||
      aboveSignedRecord(claim.incarnation, cur, false))
    return kIgnored;
  if (cur.state == MemberState::kSuspect && claim.incarnation == cur.incarnation)
    return MergeResult{MergeOutcome::kConfirmation, MemberState::kSuspect, false};
  const MemberState previous = cur.state;
  cur.incarnation = claim.incarnation;
  setState(cur, MemberState::kSuspect);
  return applied(previous);
}

MergeResult MemberTable::applyDead(const Dead& claim) {
  if (claim.id == self_.id) {
    if (claim.incarnation < self().incarnation || aboveSignedRecord(claim.incarnation, self(), true))
      return kIgnored;
    return refute(claim.incarnation);
  }
  auto it = members_.find(claim.id);
  if (it == members_.end()) return kIgnored;
  Member& cur = it->second;
  if (claim.incarnation < cur.incarnation || !isLive(cur.state) ||
      aboveSignedRecord(claim.incarnation, cur, false))
    return kIgnored;
  const MemberState previous = cur.state;
  cur.incarnation = claim.incarnation;
  setState(cur, MemberState::kDead);
  return applied(previous);
}

MergeResult MemberTable::applyLeave(const Leave& claim) {
  if (claim.id == self_.id)
    return claim.incarnation < self().incarnation ? kIgnored : refute(claim.incarnation);
  auto it = members_.find(claim.id);
  if (it == members_.end()) return kIgnored;
  Member& cur = it->second;
  // Left also upgrades dead: a member that said goodbye should not be reported as failed.
  if (claim.incarnation < cur.incarnation || cur.state == MemberState::kLeft) return kIgnored;
  const MemberState previous = cur.state;
  cur.incarnation = claim.incarnation;
  cur.leaveSignature = claim.signature;
  setState(cur, MemberState::kLeft);
  return applied(previous);
}

bool MemberTable::aliveWouldApply(const Member& claim) const {
  if (claim.id == self_.id) {
    const Member& me = self();
    // A newer incarnation of us, or a different record at ours, is someone else's stale or
    // forged view (we restarted and forgot our incarnation): outbid it.
    const bool differs = claim.name != me.name || claim.address != me.address || claim.meta != me.meta;
    return claim.incarnation > me.incarnation || (claim.incarnation == me.incarnation && differs);
  }
  const Member* cur = find(claim.id);
  return !cur || claim.incarnation > cur->incarnation;
}

bool MemberTable::leaveWouldApply(const Leave& claim) const {
  if (claim.id == self_.id) return !leaving_ && claim.incarnation >= self().incarnation;
  const Member* cur = find(claim.id);
  return cur && cur->state != MemberState::kLeft && claim.incarnation >= cur->incarnation;
}

void MemberTable::setSelfSignature(const Signature& signature) {
  Member& me = members_.at(self_.id);
  me.signedIncarnation = me.incarnation;
  me.signature = signature;
}

void MemberTable::setSelfLeaveSignature(const Signature& signature) {
  members_.at(self_.id).leaveSignature = signature;
}

bool MemberTable::remove(const NodeId& id) {
  auto it = members_.find(id);
  if (id == self_.id || it == members_.end() || isLive(it->second.state)) return false;
  members_.erase(it);
  return true;
}

const Member& MemberTable::updateSelfMeta(std::vector<uint8_t> meta) {
  Member& me = members_.at(self_.id);
  me.meta = std::move(meta);
  ++me.incarnation;
  return me;
}

const Member& MemberTable::leaveSelf() {
  Member& me = members_.at(self_.id);
  if (!leaving_) {
    leaving_ = true;
    ++me.incarnation;
    setState(me, MemberState::kLeft);
  }
  return me;
}

std::vector<NodeId> MemberTable::liveOthers() const {
  std::vector<NodeId> out;
  out.reserve(live_);
  for (const auto& [id, m] : members_)
    if (id != self_.id && isLive(m.state)) out.push_back(id);
  return out;
}

}  // namespace qmesh::membership
