// Anti-replay for datagrams, as WireGuard does it (RFC 6479's sliding bitmap): accept each
// counter at most once, and nothing more than a window behind the highest seen, so
// reordering within the window is tolerated but a recorded packet can never be replayed.
// memberlist and Serf do not protect against replay; a replayed "suspect" or "leave" could
// otherwise be used to disturb the mesh long after it was sent.
//
// Only call accept() for packets that have already authenticated: an attacker without the
// key must not be able to advance the window.
#pragma once

#include <array>
#include <cstdint>

namespace qmesh::membership {

class ReplayWindow {
 public:
  static constexpr uint64_t kBits = 2048;
  // One word of the ring is always being recycled, so the usable window is a word short.
  static constexpr uint64_t kWindow = kBits - 64;

  ReplayWindow() = default;
  // A window that has already seen every counter up to and including `floor`: how a
  // forgotten sender's window is rebuilt from the one number kept about it.
  static ReplayWindow seenUpTo(uint64_t floor);

  // True if `counter` is new (and records it); false for a duplicate or one too old.
  bool accept(uint64_t counter);
  uint64_t highest() const { return highest_; }

 private:
  static constexpr std::size_t kWords = kBits / 64;
  std::array<uint64_t, kWords> bitmap_{};
  uint64_t highest_ = 0;
};

}  // namespace qmesh::membership
