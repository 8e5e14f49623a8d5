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

void SenderWindows::spend(Sender& s, uint64_t epoch, uint64_t counter) {
  auto it = std::lower_bound(s.spent.begin(), s.spent.end(), epoch,
                             [](const Spent& x, uint64_t e) { return x.epoch < e; });
  if (it != s.spent.end() && it->epoch == epoch) {
    it->counter = std::max(it->counter, counter);
    return;
  }
  s.spent.insert(it, Spent{epoch, counter});
  if (s.spent.size() > kSpentEpochs) s.spent.erase(s.spent.begin());
}

bool SenderWindows::belowFloor(const Sender& s, uint64_t epoch) const {
  if (!s.spent.empty()) return epoch < s.spent.front().epoch;
  // Older than every epoch in use: a boot before any we know of. (Only while nothing is
  // spent: then the lowest spent epoch takes this role, and forged epochs far ahead must not
  // shut out the real sender's next boot.)
  return !s.epochs.empty() &&
         std::all_of(s.epochs.begin(), s.epochs.end(), [&](const EpochWindow& w) { return w.epoch > epoch; });
}

// Full: the epoch silent the longest gives way, but only once it has been silent for the
// handover; a sender's live epoch is never pushed out by new ones.
bool SenderWindows::makeRoom(Sender& s, TimePoint now) {
  if (s.epochs.size() < kEpochsPerSender) return true;
  auto quietest = std::min_element(s.epochs.begin(), s.epochs.end(),
                                   [](const auto& a, const auto& b) { return a.lastHeard < b.lastHeard; });
  if (now - quietest->lastHeard < kEpochHandover) return false;
  // The epoch giving way is spent up to what we saw of it. It stays resumable (same epoch,
  // higher counter), so a sender that was only cut off from us for a while, and whose slot
  // a forger took, is not shut out for good.
  spend(s, quietest->epoch, quietest->window.highest());
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
  if (belowFloor(s, epoch) || !makeRoom(s, now)) return false;
  // Forgotten (or pushed out), and back in the same boot: everything up to what we last saw
  // of it is spent.
  const auto spent = std::find_if(s.spent.begin(), s.spent.end(), [&](const Spent& x) { return x.epoch == epoch; });
  EpochWindow w{epoch, now, spent != s.spent.end() ? ReplayWindow::seenUpTo(spent->counter) : ReplayWindow{}};
  if (!w.window.accept(counter)) return false;
  s.epochs.push_back(std::move(w));
  return true;
}

void SenderWindows::forget(const NodeId& sender) {
  auto it = senders_.find(sender);
  if (it == senders_.end() || it->second.epochs.empty()) return;
  Sender& s = it->second;
  for (const EpochWindow& w : s.epochs) spend(s, w.epoch, w.window.highest());
  s.epochs.clear();
  s.epochs.shrink_to_fit();
}

std::size_t SenderWindows::windowedSenders() const {
  return static_cast<std::size_t>(
      std::count_if(senders_.begin(), senders_.end(), [](const auto& kv) { return !kv.second.epochs.empty(); }));
}

}  // namespace qmesh::membership
