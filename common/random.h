// Randomness comes in through this seam (jitter, tie-breaks, peer choice) so tests can
// seed or script it.
#pragma once

#include <cstdint>
#include <random>

namespace qmesh {

class Random {
 public:
  virtual ~Random() = default;
  virtual double uniform01() = 0;                  // [0, 1)
  virtual uint64_t below(uint64_t n) = 0;          // [0, n), n > 0
};

class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed = std::random_device{}()) : gen_(seed) {}
  double uniform01() override { return std::uniform_real_distribution<double>(0.0, 1.0)(gen_); }
  uint64_t below(uint64_t n) override { return std::uniform_int_distribution<uint64_t>(0, n - 1)(gen_); }

 private:
  std::mt19937_64 gen_;
};

}  // namespace qmesh
