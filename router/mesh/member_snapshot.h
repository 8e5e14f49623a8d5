// The member snapshot (Serf's snapshot file, addresses only): the gossip addresses of the
// members this node last saw alive, so that after a restart it can rejoin them even when it
// has no seeds (the node that created the mesh) or its seeds are all down.
//
//   membership changes ──changed()──▶ dirty ──poll(), at most once per minInterval──▶
//   the live addresses, if they differ from the file's ──▶ <file>.tmp.<pid> + rename
//
// The file is plain text, one HOST:PORT per line, '#' comments; it is only a hint (the
// addresses are tried once at start like seeds), so deleting it is always safe, and an
// unreadable or corrupt one is reported and ignored rather than stopping the node.
//
// Concurrency: none; the owner calls everything from one loop.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace qmesh::router {

// Missing file: empty (a first start). Unreadable, oversized, or any line that is not a
// HOST:PORT with a port: an error naming the file and the line; nothing from it is used.
Result<std::vector<std::string>> readMemberSnapshot(const std::filesystem::path& file);
// Writes a temporary file beside `file` and renames it over `file`: a reader (or a crash
// mid-write) sees the old list or the new one, never half of one.
Status writeMemberSnapshot(const std::filesystem::path& file, const std::vector<std::string>& addresses);

// Where the snapshot lives by default: beside the node's identity file.
std::filesystem::path defaultMemberSnapshotFile(const std::filesystem::path& identityFile);

// `seeds` first, then `snapshot`, normalised (parseHostPort) and deduplicated, without
// `self` (this node's own gossip address): the addresses a starting node joins.
std::vector<std::string> joinAddresses(const std::vector<std::string>& seeds,
                                       const std::vector<std::string>& snapshot, const std::string& self);

class MemberSnapshot {
 public:
  using Duration = std::chrono::steady_clock::duration;
  // Rewriting the file costs an fsync-free write and a rename; membership churn (a flapping
  // member, a mass join) must not turn into one per gossip message.
  static constexpr Duration kMinInterval = std::chrono::seconds(1);

  MemberSnapshot(std::filesystem::path file, const Clock& clock, Duration minInterval = kMinInterval);

  // Reads the file; unreadable or corrupt: a warning naming the file, and an empty list.
  std::vector<std::string> load();
  // Membership changed: the file is rewritten at the next poll() the interval allows.
  void changed() { dirty_ = true; }
  // Cheap when nothing changed. Otherwise, at most once per minInterval, asks `live` for the
  // current addresses and rewrites the file if they differ from what it holds.
  void poll(const std::function<std::vector<std::string>()>& live);
  // At stop: whatever is pending is written now, interval or not.
  void flush(const std::function<std::vector<std::string>()>& live);

  const std::filesystem::path& file() const { return file_; }
  uint64_t writes() const { return writes_; }

 private:
  void write(std::vector<std::string> addresses);

  std::filesystem::path file_;
  const Clock& clock_;
  Duration minInterval_;
  bool dirty_ = false;
  std::optional<std::vector<std::string>> onDisk_;  // sorted; unknown until load() or a write
  TimePoint lastCheck_{};  // the last time live() was asked (and the file written if it differed)
  bool writeFailing_ = false;  // warn once per run of failures, not every second
  uint64_t writes_ = 0;
};

}  // namespace qmesh::router
