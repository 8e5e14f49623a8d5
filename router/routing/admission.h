// Admission: at most `slots` requests in flight per worker; beyond that a bounded FIFO per
// model with a deadline. Nothing is dropped silently: every request gets a slot (a Lease)
// or a Rejection that becomes 429 (queue full) or 503 (deadline, no ready worker).
// Single-threaded: everything runs on the router's io_context.
//
// Time comes from the injected Clock: queue deadlines and the unreachable hold are read on
// it, so tests drive them with a FakeClock (a waiter's own timer only says "look again").
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "router/net.h"
#include "router/routing/admission_queue.h"
#include "router/routing/selection_policy.h"
#include "router/routing/worker_directory.h"

namespace qmesh::router {

class Admission;

// One slot of one worker. Destroying (or release()) gives it back and wakes the next waiter.
class Lease {
 public:
  Lease() = default;
  Lease(Lease&& o) noexcept { *this = std::move(o); }
  Lease& operator=(Lease&& o) noexcept;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease() { release(); }

  explicit operator bool() const { return worker_ != nullptr; }
  const WorkerPtr& worker() const { return worker_; }
  const std::string& reason() const { return reason_; }
  void release();

 private:
  friend class Admission;
  WorkerPtr worker_;
  std::shared_ptr<Admission> owner_;
  std::string reason_;
};

struct Rejection {
  int status = 503;
  std::string code;     // OpenAI error code: queue_full, queue_timeout, no_ready_worker, ...
  std::string message;
  int retry_after_s = 1;
};

// What the request itself says about where it may go.
struct RequestTraits {
  uint64_t affinity = 0;   // prefix-affinity key, 0 = none (see selection_policy.h)
  bool localOnly = false;  // it came from another router: serve here, never forward again
  // A continued stream (proxy/stream_continuation.h): only workers with this GGUF digest.
  const std::string* digest = nullptr;
};

// Models that are loaded on demand (routing/on_demand.h). Without one, a request for a model
// with no routable worker is refused at once.
class LoadGate {
 public:
  virtual ~LoadGate() = default;
  // No worker of `model` is routable: may a request wait in its queue for one to be loaded?
  virtual bool loadable(const std::string& model) = 0;
  // A request now waits in `model`'s queue for a load (called once it is queued).
  virtual void waiting(const std::string& model) = 0;
  // false: the request `ticket` may not take a slot of `model` now (it gives way to another).
  virtual bool mayGrant(const std::string& model, uint64_t ticket) const = 0;
  // A slot of `model` was taken or given back: the idle clock restarts.
  virtual void used(const std::string& model) = 0;
  // The directory changed (a supervisor snapshot, another node's gossip): called first by
  // Admission::onDirectoryChanged, so a load judged failed answers its waiters itself.
  virtual void directoryChanged() = 0;
};

struct AdmissionResult {
  Lease lease;
  std::optional<Rejection> rejection;  // set when there is no lease
};

class Admission : public std::enable_shared_from_this<Admission> {
 public:
  // `selection`: the policy's knobs for every placement (router.prefix_affinity among them).
  Admission(WorkerDirectory& directory, Random& random, const Clock& clock, std::size_t depth,
            std::chrono::milliseconds timeout, SelectionParams selection = {})
      : dir_(directory), random_(random), clock_(clock), depth_(depth), timeout_(timeout), selection_(selection) {}

  // Every grant or release: the mesh publishes load changes from here.
  void setOnLoadChanged(std::function<void()> f) { onLoadChanged_ = std::move(f); }
  void setLoadGate(LoadGate* gate) { gate_ = gate; }  // null: none (static mode)

  // A free slot at once, or a place in the model's queue until a slot frees, the deadline
  // passes, the model loses its last ready worker, or cancel(ticket) (client gone).
  net::awaitable<AdmissionResult> acquire(std::string model, uint64_t ticket, RequestTraits traits = {});
  // A slot now or nothing, never queueing: the one retry after a failed attempt. `exclude`
  // skips a worker, and every worker of the same remote node when it is remote.
  Lease tryAcquire(const std::string& model, const Worker* exclude, RequestTraits traits = {});
  void cancel(uint64_t ticket);
  // New capacity or lost workers: hand slots to waiters, or fail them fast.
  void onDirectoryChanged();
  // Rejects (503 queue_timeout) every waiter whose deadline has passed on the clock. A
  // waiter's timer calls it when it runs out; tests call it after advancing a FakeClock.
  void expireDue();

  // For the LoadGate: answer `model`'s waiters (a failed load), or hand them free slots now.
  void failWaiting(const std::string& model, const Rejection& r);
  void grantWaiting(const std::string& model) { drain(model); }
  std::optional<uint64_t> frontTicket(const std::string& model) const;

  uint64_t newTicket() { return ++lastTicket_; }
  uint64_t lastTicket() const { return lastTicket_; }
  std::size_t queued(const std::string& model) const;
  uint64_t rejected(const std::string& code) const;

 private:
  friend class Lease;
  struct Waiter {
    net::steady_timer timer;
    RequestTraits traits;
    Lease granted;
    std::optional<Rejection> rejected;
  };
  void released(const std::string& model);
  bool anyRoutable(const std::string& model, TimePoint now, RequestTraits traits) const;
  void drain(const std::string& model);
  void rejectAll(const std::string& model, const Rejection& r);
  AdmissionQueue& queueOf(const std::string& model);
  AdmissionResult reject(Rejection r);
  Rejection timedOut(const std::string& model) const;
  int retryAfterSeconds() const { return static_cast<int>(std::max<int64_t>(1, timeout_.count() / 1000)); }

  WorkerDirectory& dir_;
  Random& random_;
  const Clock& clock_;
  std::size_t depth_;
  std::chrono::milliseconds timeout_;
  SelectionParams selection_;
  uint64_t lastTicket_ = 0;
  std::map<std::string, AdmissionQueue> queues_;
  std::map<uint64_t, Waiter*> waiters_;
  std::map<std::string, uint64_t> rejectedByCode_;
  std::function<void()> onLoadChanged_;
  LoadGate* gate_ = nullptr;
};

}  // namespace qmesh::router
