#include "router/membership/replay_window.h"

#include <algorithm>

namespace qmesh::membership {

ReplayWindow ReplayWindow::seenUpTo(uint64_t floor) {
  ReplayWindow w;
  w.highest_ = floor;
  // Every other word of the ring holds counters below the floor's word: all seen. In the
  // floor's own word, the bits up to the floor are seen and those above it are not.
  w.bitmap_.fill(~uint64_t{0});
  const uint64_t bit = floor % 64;
  w.bitmap_[(floor / 64) % kWords] = bit == 63 ? ~uint64_t{0} : (uint64_t{1} << (bit + 1)) - 1;
  return w;
}

bool ReplayWindow::accept(uint64_t counter) {
  const uint64_t index = counter / 64;
  if (counter > highest_) {
    // Clear the words the window slides over (at most the whole ring).
    const uint64_t current = highest_ / 64;
    const uint64_t advance = std::min<uint64_t>(index - current, kWords);
    for (uint64_t i = 1; i <= advance; ++i) bitmap_[(current + i) % kWords] = 0;
    highest_ = counter;
  } else if (highest_ - counter >= kWindow) {
    return false;  // too old to judge: treat as a replay
  }
  uint64_t& word = bitmap_[index % kWords];
  const uint64_t bit = uint64_t{1} << (counter % 64);
  if (word & bit) return false;
  word |= bit;
  return true;
}

}  // namespace qmesh::membership
