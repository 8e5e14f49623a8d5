// The router's Prometheus metrics: requests and status codes, in-flight, time to first byte
// and total latency per model, upstream errors, bytes and SSE events. Plain counters on the
// one io_context thread; rendered in the text exposition format on GET /metrics.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/histogram.h"

namespace qmesh::router {

class WorkerDirectory;
class Admission;

class RouterMetrics {
 public:
  void requestStarted() { ++inFlight_; }
  // model is empty for requests answered locally (errors, /health, ...).
  void requestFinished(const std::string& model, int status, double totalSeconds);
  void firstByte(const std::string& model, double seconds);
  void upstreamError(const std::string& model, const std::string& kind);
  void bytesToClient(uint64_t n) { bytesToClient_ += n; }
  void bytesFromClient(uint64_t n) { bytesFromClient_ += n; }
  void sseEvents(const std::string& model, uint64_t n) { sseEvents_[model] += n; }
  void retried(const std::string& model) { ++retries_[model]; }
  void clientGone(const std::string& model) { ++clientGone_[model]; }
  // A stream moved to another worker mid-generation (reason: reset, eof, stall, worker_down),
  // or could not be (reason: n, logprobs, grammar, prompt, tool_calls, no_worker, limit).
  void streamContinued(const std::string& model, const std::string& reason) { ++continued_[{model, reason}]; }
  void streamContinuationRefused(const std::string& model, const std::string& reason) {
    ++continuationRefused_[{model, reason}];
  }
  void connectionRefused() { ++connectionsRefused_; }  // over router.max_connections
  uint64_t connectionsRefused() const { return connectionsRefused_; }
  void connectionEvicted() { ++connectionsEvicted_; }  // idle, closed at the cap for a newcomer
  uint64_t connectionsEvicted() const { return connectionsEvicted_; }
  int64_t inFlight() const { return inFlight_; }
  uint64_t requests() const;

  std::string render(const WorkerDirectory& dir, const Admission& admission) const;

 private:
  Histogram& histogram(std::map<std::string, Histogram>& m, const std::string& model);
  int64_t inFlight_ = 0;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // (model, status)
  std::map<std::string, Histogram> ttfb_, total_;
  std::map<std::pair<std::string, std::string>, uint64_t> upstreamErrors_;  // (model, kind)
  std::map<std::pair<std::string, std::string>, uint64_t> continued_, continuationRefused_;  // (model, reason)
  std::map<std::string, uint64_t> sseEvents_, retries_, clientGone_;
  uint64_t bytesToClient_ = 0, bytesFromClient_ = 0;
  uint64_t connectionsRefused_ = 0;
  uint64_t connectionsEvicted_ = 0;
};

}  // namespace qmesh::router
