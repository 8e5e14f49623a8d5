// The chaos soak's load: N client threads, each running one streaming chat completion at a
// time (real SSE through the routers) with a client deadline, entry router and model drawn
// from a seeded generator. Every request ends in exactly one outcome; the ones that break
// the soak's invariant are kept with a message saying why.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/http_client.h"

namespace qmesh::test::soak {

using Clock = std::chrono::steady_clock;

enum class Outcome {
  Completed,        // 200, the stream ended with "data: [DONE]"
  HttpError,        // an HTTP error status with an OpenAI error body
  InBandError,      // 200, then an in-band `data: {"error": ...}` event
  CutByRouterKill,  // the connection broke while the router the client talks to was being
                    // killed (kill -9 leaves that process no way to answer); never a hang
  Hung,             // the client deadline passed: a broken invariant
  Lost,             // ended any other way (cut without an error, bad error body): broken
};
constexpr int kOutcomes = 6;
const char* toString(Outcome o);

struct Classified {
  Outcome outcome;
  std::string detail;  // why, for the broken ones
};
// `entryRouterDown`: the client's own router was killed (or not yet back) while it ran.
Classified classify(const HttpResponse& res, bool entryRouterDown);

struct LoadOptions {
  int clients = 32;
  std::vector<std::string> routers;  // base URLs, one per node (entry points)
  std::vector<std::string> models;
  uint64_t seed = 1;
  std::chrono::milliseconds deadline{45000};
  std::string idPrefix = "soak";
};

class Load {
 public:
  // Whether node `entry`'s router was down at some point in [from, to].
  using RouterDown = std::function<bool(int entry, Clock::time_point from, Clock::time_point to)>;
  Load(LoadOptions options, RouterDown routerDown);
  ~Load();  // stops and joins
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;

  void start();
  // Lets every client finish its current request (each bounded by the deadline), then joins.
  void stop();

  std::vector<uint64_t> counts() const;      // indexed by Outcome
  uint64_t requests() const;
  std::vector<std::string> violations() const;  // one line per Hung or Lost request
  std::string statuses() const;                 // "503 x12, 429 x3": the HTTP errors by status
  int active() const { return active_.load(); }

 private:
  void client(int index);
  void record(Outcome o, long status, const std::string& line);

  LoadOptions o_;
  RouterDown routerDown_;
  std::atomic<bool> stop_{false};
  std::atomic<int> active_{0};
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_ = std::vector<uint64_t>(kOutcomes, 0);
  std::vector<std::string> violations_;
  std::map<long, uint64_t> statuses_;
  Clock::time_point t0_ = Clock::now();
};

}  // namespace qmesh::test::soak
