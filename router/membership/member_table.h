// The SWIM merge rules, with no I/O and no clock: what an incoming claim does to our view.
//
//   Claims are ordered by incarnation, which only the member itself increments. At equal
//   incarnation:   left/dead  >  suspect  >  alive
//   - alive   applies only with a strictly newer incarnation (that is how a member clears a
//             suspicion of itself, or comes back after being declared dead);
//   - suspect applies to an alive member at the same or newer incarnation; a suspect claim
//             about a member already suspect at that incarnation is a confirmation;
//   - dead    applies to an alive or suspect member at the same or newer incarnation;
//   - left    is announced only by the member itself and ends its membership quietly.
//   - suspect and dead are unsigned, so they never reach above the subject's latest signed
//             incarnation (ours: our current one): a member holding the mesh key cannot
//             accuse an incarnation the subject never announced, out of its reach to refute.
//   A suspect/dead claim about the local node at our current incarnation, or a signed
//   alive/left one at it or newer, is refuted: we bump our incarnation past it (never
//   wrapping to 0) and announce alive (unless we are leaving).
//   Claims about members we never heard alive are ignored: without an address they are
//   not actionable, and anti-entropy sync will bring the full record.
//   Signatures are checked by the engine before a claim gets here (aliveWouldApply and
//   leaveWouldApply say whether a check is needed at all); the table only stores them.
#pragma once

#include <cstddef>
#include <map>
#include <vector>

#include "router/membership/messages.h"

namespace qmesh::membership {

enum class MergeOutcome {
  kIgnored,       // stale or not applicable: do not re-gossip
  kApplied,       // our view changed: re-gossip the claim, tell listeners
  kConfirmation,  // suspect claim about an already-suspect member: Lifeguard confirmation
  kRefuted,       // the claim was about us: our incarnation is bumped, announce alive
};

struct MergeResult {
  MergeOutcome outcome = MergeOutcome::kIgnored;
  MemberState previous = MemberState::kAlive;  // meaningful for kApplied
  bool isNew = false;                          // kApplied to a member we did not know
};

class MemberTable {
 public:
  explicit MemberTable(Member self);

  const Member& self() const { return members_.at(self_.id); }
  const NodeId& selfId() const { return self_.id; }
  bool leaving() const { return leaving_; }

  const Member* find(const NodeId& id) const;
  const std::map<NodeId, Member>& all() const { return members_; }

  MergeResult applyAlive(const Member& claim);
  MergeResult applySuspect(const Suspect& claim);
  MergeResult applyDead(const Dead& claim);
  MergeResult applyLeave(const Leave& claim);

  // Whether applyAlive/applyLeave would do anything but ignore the claim: the engine only
  // spends a signature check on claims that can change something.
  bool aliveWouldApply(const Member& claim) const;
  bool leaveWouldApply(const Leave& claim) const;

  // Local changes: each bumps our incarnation so the new record wins everywhere.
  const Member& updateSelfMeta(std::vector<uint8_t> meta);
  const Member& leaveSelf();
  // Our record's proof at its current incarnation (after every change above or a refute).
  void setSelfSignature(const Signature& signature);
  void setSelfLeaveSignature(const Signature& signature);

  // Forgets a dead or left member (the engine's retention ran out). Returns false, changing
  // nothing, for ourselves or a member that is alive or suspect.
  bool remove(const NodeId& id);

  // Members that count towards N (alive or suspect, self included): the basis of the
  // suspicion timeout and the retransmit limit.
  std::size_t liveCount() const { return live_; }
  // Other members worth probing and gossiping to: alive or suspect.
  std::vector<NodeId> liveOthers() const;

 private:
  MergeResult refute(uint32_t claimedIncarnation);
  void setState(Member& m, MemberState s);

  Member self_;  // identity only; the live record is members_[self_.id]
  bool leaving_ = false;
  std::size_t live_ = 0;
  std::map<NodeId, Member> members_;  // ordered: seeded runs replay identically
};

}  // namespace qmesh::membership
