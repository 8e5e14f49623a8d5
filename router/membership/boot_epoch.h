// The boot epoch a node seals its packets with (envelope.h): it must grow with every start,
// or peers take the new process's packets for replays of the old one's and drop them. The
// wall clock alone does not promise that (an NTP step back, a board without an RTC that
// boots in 1970), so the last epoch used is kept in a file beside the node's identity and
// the next one is max(stored + 1, now).
//
// The file: one decimal number and a newline, replaced atomically and synced before the
// epoch is used, so no two starts of a node ever seal with the same epoch.
#pragma once

#include <cstdint>
#include <filesystem>

#include "common/result.h"

namespace qmesh::membership {

// Where the counter lives: beside the identity file, which names the node it belongs to.
std::filesystem::path bootEpochFileFor(const std::filesystem::path& identityFile);

// Reads the last epoch from `file` (none if it does not exist), stores and returns
// max(last + 1, now). `now` is the wall clock in microseconds since 1970. Errors name the
// file and the fix: an unreadable or malformed file, or one that cannot be written.
Result<uint64_t> nextBootEpoch(const std::filesystem::path& file, uint64_t now);

}  // namespace qmesh::membership
