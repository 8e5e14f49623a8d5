// Which worker gets the next request, local or on another node. Pure: no I/O, randomness
// injected.
//
//   1. eligible: a free slot as far as this router knows (outstanding < slots) — beyond
//      that a request would wait inside llama-server (or a remote router) where we cannot
//      see or cancel it, so it waits in our queue instead;
//   2. overloaded workers (health score < 20, QMesh's threshold) only if nothing else is;
//   3. prefix affinity: a request with an affinity key goes to the first worker in its
//      rendezvous-hash order whose load stays within `affinityBound` times the average
//      (consistent hashing with bounded loads, Mirrokni et al.), so requests that share a
//      conversation prefix land where llama-server already holds it in its KV cache;
//   4. otherwise the least loaded: load = max(our outstanding, its gossiped in-flight +
//      queued) / slots, plus a small penalty for a remote worker (one more hop) and for
//      low health; ties broken at random so equal workers share a burst.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/random.h"

namespace qmesh::router {

// Tie-breaks draw from qmesh::Random (common/random.h), seeded from the system in production.
using StdRandom = SeededRandom;

struct Load {
  int64_t outstanding = 0;   // requests this router holds on it
  int64_t slots = 1;
  int64_t reportedBusy = 0;  // remote: in-flight + queued as last gossiped (late, includes ours)
  bool remote = false;
  int health = 100;
  uint64_t idHash = 0;       // stable hash of the worker id, for rendezvous hashing
};

struct SelectionParams {
  double remotePenalty = 0.1;   // in units of load (outstanding/slots): local wins near-ties
  double affinityBound = 1.25;  // c of bounded loads: 1.25 keeps the hottest worker within 25% of average
  int overloadedHealth = 20;    // QMesh: below this a worker rejects
  // router.prefix_affinity: false skips step 3, so every request goes by load alone (random
  // ties): the baseline bench/prefix_affinity.py measures the prompt cache savings against.
  bool prefixAffinity = true;
};

struct Choice {
  std::size_t index = 0;
  std::string reason;  // "least-loaded 1/4", "affinity 2/4": its load before this request
};

// affinityKey 0 = no affinity (requests without a recognisable prefix).
std::optional<Choice> chooseWorker(const std::vector<Load>& candidates, uint64_t affinityKey, Random& random,
                                   const SelectionParams& params = {});

// The former local-only policy: least outstanding/slots with random ties.
inline std::optional<Choice> chooseLeastLoaded(const std::vector<Load>& candidates, Random& random) {
  return chooseWorker(candidates, 0, random);
}

// FNV-1a, 64-bit: stable across processes and builds, so every router of a mesh sends the
// same conversation to the same worker.
uint64_t stableHash(std::string_view text);
// The rendezvous weight of a worker for a key (a splitmix64 finaliser of both).
uint64_t rendezvousWeight(uint64_t key, uint64_t idHash);

}  // namespace qmesh::router
