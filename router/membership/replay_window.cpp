#include "router/membership/replay_window.h"

#include <algorithm>

namespace qmesh::membership {

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
