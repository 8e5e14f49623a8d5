#include "router/membership/sender_windows.h"

#include <algorithm>

namespace qmesh::membership {

SenderWindows::Sender& SenderWindows::find(const NodeId& sender) {
  if (auto it = senders_.find(sender); it != senders_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return it->second;
  }
  if (senders_.size() >= kMaxSenders) {
    senders_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(sender);
  Sender& s = senders_[sender];
  s.lru = lru_.begin();
  return s;
}

void SenderWindows::raiseFloor(Sender& s, uint64_t epoch, uint64_t counter) {
  if (s.hasFloor && (epoch < s.floorEpoch || (epoch == s.floorEpoch && counter <= s.floorCounter))) return;
  s.hasFloor = true;
  s.floorEpoch = epoch;
  s.floorCounter = counter;
}

bool SenderWindows::belowFloor(const Sender& s, uint64_t epoch) const {
  if (s.hasFloor) return epoch < s.floorEpoch;
  // Older than every epoch in use: a boot before any we know of. (Only while there is no
  // floor: once one is set it takes this role, and forged epochs far ahead must not shut
  // out the real sender's next boot.)
  return !s.epochs.empty() &&
         std::all_of(s.epochs.begin(), s.epochs.end(), [&](const EpochWindow& w) { return w.epoch > epoch; });
}

// Full: the epoch silent the longest gives way, but only once it has been silent for the
// handover; a sender's live epoch is never pushed out by new ones.
bool SenderWindows::makeRoom(Sender& s, uint64_t incoming, TimePoint now) {
  if (s.epochs.size() < kEpochsPerSender) return true;
  auto quietest = std::min_element(s.epochs.begin(), s.epochs.end(),
                                   [](const auto& a, const auto& b) { return a.lastHeard < b.lastHeard; });
  if (now - quietest->lastHeard < kEpochHandover) return false;
  // A newer boot taking the slot closes the older one up to what we saw of it. The floor
  // stays resumable (same epoch, higher counter), so a sender that was only cut off from us
  // for a while, and whose slot a forger took, is not shut out for good.
  if (incoming > quietest->epoch) raiseFloor(s, quietest->epoch, quietest->window.highest());
  s.epochs.erase(quietest);
  return true;
}

bool SenderWindows::accept(const NodeId& sender, uint64_t epoch, uint64_t counter) {
  const TimePoint now = clock_.now();
  Sender& s = find(sender);
  for (EpochWindow& w : s.epochs) {
    if (w.epoch != epoch) continue;
    if (!w.window.accept(counter)) return false;
    w.lastHeard = now;
    return true;
  }
  if (belowFloor(s, epoch) || !makeRoom(s, epoch, now)) return false;
  // Forgotten (or pushed out), and back in the same boot: everything up to what we last saw
  // of it is spent.
  const bool resumed = s.hasFloor && epoch == s.floorEpoch;
  EpochWindow w{epoch, now, resumed ? ReplayWindow::seenUpTo(s.floorCounter) : ReplayWindow{}};
  if (!w.window.accept(counter)) return false;
  s.epochs.push_back(std::move(w));
  return true;
}

void SenderWindows::forget(const NodeId& sender) {
  auto it = senders_.find(sender);
  if (it == senders_.end() || it->second.epochs.empty()) return;
  Sender& s = it->second;
  // The epoch it spoke on last: its own, unless a forger outlived it (then its next boot
  // may still need its slot; see makeRoom).
  const auto last = std::max_element(s.epochs.begin(), s.epochs.end(),
                                     [](const auto& a, const auto& b) { return a.lastHeard < b.lastHeard; });
  raiseFloor(s, last->epoch, last->window.highest());
  s.epochs.clear();
  s.epochs.shrink_to_fit();
}

std::size_t SenderWindows::windowedSenders() const {
  return static_cast<std::size_t>(
      std::count_if(senders_.begin(), senders_.end(), [](const auto& kv) { return !kv.second.epochs.empty(); }));
}

}  // namespace qmesh::membership
