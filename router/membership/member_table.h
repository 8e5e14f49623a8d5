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
//   Any suspect/dead/left claim about the local node at our current incarnation or newer is
//   refuted: we bump our incarnation past it and announce alive (unless we are leaving).
//   Claims about members we never heard alive are ignored: without an address they are
//   not actionable, and anti-entropy sync will bring the full record.
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

  // Local changes: each bumps our incarnation so the new record wins everywhere.
  const Member& updateSelfMeta(std::vector<uint8_t> meta);
  const Member& leaveSelf();

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
