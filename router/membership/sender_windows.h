// The replay state of every sender whose sealed packets we open: per sender, a ReplayWindow
// for each boot epoch it is heard on, and a floor below which its packets are a past life.
//
// The envelope's sender id and boot epoch are authenticated by the shared mesh key only, so
// a member that holds it can write any sender and any epoch. Two rules keep such a member
// from locking the real sender out, or from growing our memory without bound:
//
//  - A new epoch does not displace the sender's current one. Each epoch heard keeps its own
//    window (at most kEpochsPerSender); when all are taken, a new epoch gets the slot of the
//    one silent longest, and only if it has been silent for kEpochHandover. A real restart
//    frees its slot that way (the old process is gone, its epoch falls silent); a forged
//    far-future epoch cannot silence the real sender, whose epoch stays live beside it.
//    (Rejecting epochs too far ahead of our clock would not do: any epoch a little ahead
//    still locks the sender out until its next restart.) A previous boot's window lives on
//    until its slot is needed: its replays stay rejected, and a packet of it that we never
//    received (lost; without the key nobody can make new ones) is accepted once. Epochs
//    below every one in use, or below the floor, are refused.
//  - At most kMaxSenders senders are remembered; when a new one arrives beyond that, the
//    one heard from least recently is forgotten entirely. A flood of made-up sender ids then
//    costs a bounded ~4 MB, and a live member, heard every probe interval, is only evicted
//    by a flood of kMaxSenders new ids within that interval; then its recent packets could
//    be replayed once, which the merge rules ignore (stale incarnations).
//
// A member the mesh forgot (reaped) keeps only what it spent: for each epoch it had a window
// for, the highest counter seen (at most kSpentEpochs pairs of 16 bytes, not ~1 KB of
// windows). A packet of a spent epoch resumes that epoch above its counter; an epoch below
// every spent one is a past life. All of them are kept, not just the last heard: a replay of
// the newer epoch would otherwise open again after the mesh forgot the sender (found by the
// envelope_open fuzzer). The lowest pair is dropped first when there are too many, which
// only raises the bar for past lives; a forger who fills every pair with far-future epochs
// over kSpentEpochs reaps of the real sender could still shut it out of older epochs, the
// price of a bounded record.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <vector>

#include "common/clock.h"
#include "router/membership/node_id.h"
#include "router/membership/replay_window.h"

namespace qmesh::membership {

class SenderWindows {
 public:
  // ~300 bytes per epoch window: 4,096 senders x 3 epochs is under 4 MB.
  static constexpr std::size_t kMaxSenders = 4096;
  // The real epoch, a restart's new one, and one more; a forger holding the other slots
  // delays a restarted sender by at most kEpochHandover.
  static constexpr std::size_t kEpochsPerSender = 3;
  // Far longer than any reordering of the old boot's last packets, short enough that a
  // restarted node's previous life is closed soon after.
  static constexpr std::chrono::seconds kEpochHandover{10};
  // Spent epochs remembered per sender (see above): twice the windows a sender can hold.
  static constexpr std::size_t kSpentEpochs = 2 * kEpochsPerSender;

  explicit SenderWindows(const Clock& clock) : clock_(clock) {}

  // True if (epoch, counter) is new from `sender` (and records it). Call only for packets
  // that authenticated.
  bool accept(const NodeId& sender, uint64_t epoch, uint64_t counter);
  // Drops the sender's windows, keeping each epoch's highest counter (spent): everything it
  // sent before stays rejected.
  void forget(const NodeId& sender);

  std::size_t senders() const { return senders_.size(); }
  // Senders that still have a window (the forgotten ones excluded).
  std::size_t windowedSenders() const;

 private:
  struct EpochWindow {
    uint64_t epoch = 0;
    TimePoint lastHeard{};
    ReplayWindow window;
  };
  struct Spent {
    uint64_t epoch = 0;
    uint64_t counter = 0;  // highest seen: counters up to it are rejected on resumption
  };
  struct Sender {
    std::vector<Spent> spent;  // ascending epochs, at most kSpentEpochs
    std::vector<EpochWindow> epochs;
    std::list<NodeId>::iterator lru;
  };

  Sender& find(const NodeId& sender);
  void spend(Sender& s, uint64_t epoch, uint64_t counter);
  bool belowFloor(const Sender& s, uint64_t epoch) const;
  bool makeRoom(Sender& s, TimePoint now);

  const Clock& clock_;
  std::map<NodeId, Sender> senders_;
  std::list<NodeId> lru_;  // front: heard from most recently
};

}  // namespace qmesh::membership
