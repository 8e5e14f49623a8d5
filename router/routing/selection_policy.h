// Which worker gets the next request: the least outstanding requests relative to its
// slots, ties broken at random (so equal workers share load instead of the first in the
// list taking every burst). Pure: no I/O, randomness injected.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace qmesh::router {

class Random {
 public:
  virtual ~Random() = default;
  virtual uint64_t below(uint64_t n) = 0;  // uniform in [0, n); n > 0
};

class StdRandom final : public Random {
 public:
  StdRandom() : gen_(std::random_device{}()) {}
  uint64_t below(uint64_t n) override { return std::uniform_int_distribution<uint64_t>(0, n - 1)(gen_); }

 private:
  std::mt19937_64 gen_;
};

struct Load {
  int64_t outstanding = 0;
  int64_t slots = 1;
};

struct Choice {
  std::size_t index = 0;
  std::string reason;  // "least-loaded 1/4": its load before this request
};

// Only candidates with a free slot (outstanding < slots) are eligible: beyond that a request
// would wait inside llama-server where we cannot see or cancel it, so it waits in our queue.
std::optional<Choice> chooseLeastLoaded(const std::vector<Load>& candidates, Random& random);

}  // namespace qmesh::router
