// What a router says about its node in gossip (the opaque `meta` of its member record):
// software version, the data-plane address other routers forward to, the node's CPU and
// memory use, and per local worker its model, state, slots, load and health score.
// Signed with the rest of the record by the node's identity, so only the node itself can
// say what it serves.
//
//   [format u8 = 1][version str8][data address str8][cpu% u8][mem% u8][workers u8]
//   per worker: [model str8][state u8][slots u16][in-flight u16][queued u16][health u8][flags u8]
//   (flags: bit 0 embeddings, bit 1 draining: its node drains and takes no new request;
//   an older decoder ignores the bits it does not know)
//   then (appended later; absent from older nodes' meta, read as 0):
//   [1-minute load average x 10, u16][machine boot time, unix seconds u32]
//   then, when they fit, per worker: [has digest u8][sha256 of its GGUF, 32 bytes if has]
//   (a stream is only continued on a worker with the same digest: stream_continuation.h)
//   then: [free memory budget, MiB u32; 0xffffffff = no budget][loads in progress u8]
//   (where the mesh loads a model on demand: routing/load_placement.h; when the digests do
//   not fit, a zero "has digest" byte per worker stands in for them so these still follow)
//   then, when they fit, per worker: [tokens/s x 10, u16] (its streams over the last
//   minute, for the console; 0xffff or absent: unknown)
//   then, when they fit, per worker: [restarts, u16], then per worker: [load progress in
//   percent, u16] (for the console; 0xffff or absent: unknown)
//
// Fields are appended at the end only: a decoder ignores bytes it does not know, so a
// newer node's meta still reads on an older one.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "router/routing/worker_directory.h"

namespace qmesh::router {

struct WorkerMeta {
  std::string model;
  WorkerState state = WorkerState::Unknown;
  int64_t slots = 0;
  int64_t inFlight = 0;
  int64_t queued = 0;
  int health = 100;  // QMesh's score, 0..100; below 20 = overloaded
  bool embeddings = false;
  std::string digest;  // the GGUF's sha256 as 64 lowercase hex digits, or empty
  bool draining = false;  // its node drains (worker_directory.h's WorkerInfo::draining)
  // Tokens/s of the streams its node relayed to its model over the last minute, x 10
  // (console/token_rates.h); -1: not told (an older node, or no room in the meta).
  int64_t tokenRateTenths = -1;
  int64_t restarts = -1;  // its supervisor's restart count; -1: not told
  int64_t loadPercent = -1;  // while it loads, how far (supervisor/load_progress.h); -1: none
  bool operator==(const WorkerMeta&) const = default;
};

struct NodeMeta {
  std::string version;
  std::string dataAddress;  // "host:port" of the encrypted router-to-router listener
  int cpuPercent = 0;
  int memPercent = 0;
  std::vector<WorkerMeta> workers;
  int loadTenths = 0;    // for the console; whole and half units only, so it seldom changes
  int64_t bootUnix = 0;  // the machine's boot time: its uptime without a gossip update a second
  // node.memory_budget minus what its resident models take, in MiB (rounded down); kNoBudget
  // when it has none (an older node's meta too: it reads as unbounded).
  static constexpr uint32_t kNoBudget = 0xffffffff;
  uint32_t freeMemoryMiB = kNoBudget;
  int loadsInProgress = 0;  // its workers starting or loading now (0..255)
  bool operator==(const NodeMeta&) const = default;
};

// QMesh's health formula: (100-cpu)*0.4 + (100-mem)*0.4 + queue_free%*0.2, where the
// queue is the worker's slots and queue_free% the share of slots not taken by in-flight
// or queued requests.
int healthScore(int cpuPercent, int memPercent, int64_t slots, int64_t inFlight, int64_t queued);

// Encodes as many workers as fit in `maxBytes` (the gossip meta limit); `dropped` tells how
// many did not (the caller logs it: such a node should rename or merge models).
std::vector<uint8_t> encodeNodeMeta(const NodeMeta& meta, std::size_t maxBytes, std::size_t* dropped = nullptr);
// Also an error: a version or model name that breaks the config's name rule
// (common/names.h), or a data address that is not a numeric IP:PORT.
Result<NodeMeta> decodeNodeMeta(std::span<const uint8_t> bytes);

}  // namespace qmesh::router
