#include "router/routing/admission.h"

namespace qmesh::router {

Lease& Lease::operator=(Lease&& o) noexcept {
  if (this != &o) {
    release();
    worker_ = std::move(o.worker_);
    owner_ = std::move(o.owner_);
    reason_ = std::move(o.reason_);
    o.worker_.reset();
    o.owner_.reset();
  }
  return *this;
}

void Lease::release() {
  if (!worker_) return;
  WorkerPtr w = std::move(worker_);
  std::shared_ptr<Admission> owner = std::move(owner_);
  worker_.reset();
  owner_.reset();
  --w->outstanding;
  if (owner) owner->released(w->info.model);
}

AdmissionQueue& Admission::queueOf(const std::string& model) {
  auto it = queues_.find(model);
  if (it == queues_.end()) it = queues_.emplace(model, AdmissionQueue(depth_)).first;
  return it->second;
}

AdmissionResult Admission::reject(Rejection r) {
  ++rejectedByCode_[r.code];
  return AdmissionResult{Lease{}, std::move(r)};
}

Lease Admission::tryAcquire(const std::string& model, const Worker* exclude, RequestTraits traits) {
  const TimePoint now = clock_.now();
  std::vector<WorkerPtr> pool;
  std::vector<Load> loads;
  for (const auto& w : dir_.workersOf(model)) {
    if (w.get() == exclude || !w->routable(now)) continue;
    if (traits.digest && w->info.digest != *traits.digest) continue;
    if (w->info.remote && (traits.localOnly || (exclude && exclude->info.remote && exclude->info.peer == w->info.peer)))
      continue;
    pool.push_back(w);
    loads.push_back({w->outstanding, w->info.slots, w->info.inFlight + w->info.queued, w->info.remote,
                     w->info.health, stableHash(w->id)});
  }
  auto choice = chooseWorker(loads, traits.affinity, random_, selection_);
  Lease l;
  if (!choice) return l;
  l.worker_ = pool[choice->index];
  l.owner_ = shared_from_this();
  l.reason_ = std::move(choice->reason);
  ++l.worker_->outstanding;
  if (onLoadChanged_) onLoadChanged_();
  if (gate_) gate_->used(model);
  return l;
}

net::awaitable<AdmissionResult> Admission::acquire(std::string model, uint64_t ticket, RequestTraits traits) {
  const TimePoint now = clock_.now();
  // No routable worker: wait only for one the gate loads (a model loaded on demand).
  const bool routable = anyRoutable(model, now, traits);
  if (!routable && !(gate_ && gate_->loadable(model)))
    co_return reject({503, "no_ready_worker", "model '" + model + "' has no ready worker right now", 2});
  AdmissionQueue& q = queueOf(model);
  // Waiters go first: a newcomer never overtakes the queue even if a slot just freed.
  if (routable && q.empty() && (!gate_ || gate_->mayGrant(model, ticket)))
    if (Lease l = tryAcquire(model, nullptr, traits)) co_return AdmissionResult{std::move(l), std::nullopt};
  if (!q.push(ticket, now + timeout_))
    co_return reject({429, "queue_full",
                      "model '" + model + "' is busy: all slots are in use and " + std::to_string(q.depth()) +
                          " requests are already waiting",
                      retryAfterSeconds()});
  // (GCC 12 miscompiles co_await inside an aggregate initializer: keep it separate.)
  const auto executor = co_await net::this_coro::executor;
  Waiter w{net::steady_timer(executor), traits, Lease{}, std::nullopt};
  w.timer.expires_after(timeout_);
  waiters_[ticket] = &w;
  if (!routable) gate_->waiting(model);
  error_code ec;
  co_await w.timer.async_wait(awaitEc(ec));
  if (!ec) expireDue();  // ran out: this waiter's deadline (and perhaps others') has passed
  waiters_.erase(ticket);
  if (w.granted) co_return AdmissionResult{std::move(w.granted), std::nullopt};
  if (w.rejected) co_return reject(*w.rejected);
  // Only a clock other than the timer's (a test's FakeClock) can still disagree: the timer
  // ran out, so the deadline is as good as passed.
  queueOf(model).remove(ticket);
  co_return reject(timedOut(model));
}

Rejection Admission::timedOut(const std::string& model) const {
  if (gate_ && !dir_.anyRoutable(model, clock_.now()))  // it waited for a load
    return {503, "queue_timeout",
            "model '" + model + "' was not loaded within " + std::to_string(timeout_.count()) +
                " ms (router.queue_timeout) while this request waited; retry later, or raise "
                "router.queue_timeout for a model that loads slowly",
            retryAfterSeconds()};
  return {503, "queue_timeout",
          "model '" + model + "' stayed busy for " + std::to_string(timeout_.count()) +
              " ms while this request waited; retry later",
          retryAfterSeconds()};
}

void Admission::expireDue() {
  const TimePoint now = clock_.now();
  for (auto& [model, q] : queues_)
    for (const uint64_t ticket : q.expire(now)) {
      auto it = waiters_.find(ticket);
      if (it == waiters_.end()) continue;
      it->second->rejected = timedOut(model);
      it->second->timer.cancel();
    }
}

void Admission::cancel(uint64_t ticket) {
  auto it = waiters_.find(ticket);
  if (it == waiters_.end()) return;
  for (auto& [model, q] : queues_) q.remove(ticket);
  it->second->rejected = Rejection{499, "client_closed", "client closed the connection while queued", 0};
  it->second->timer.cancel();
}

void Admission::released(const std::string& model) {
  if (onLoadChanged_) onLoadChanged_();
  drain(model);
  if (gate_) gate_->used(model);
}

bool Admission::anyRoutable(const std::string& model, TimePoint now, RequestTraits traits) const {
  for (const auto& w : dir_.workersOf(model))
    if (w->routable(now) && !(traits.localOnly && w->info.remote)) return true;
  return false;
}

void Admission::drain(const std::string& model) {
  AdmissionQueue& q = queueOf(model);
  while (auto ticket = q.front()) {
    auto it = waiters_.find(*ticket);
    if (it == waiters_.end()) {  // cannot happen: queue and map change together
      q.pop();
      continue;
    }
    if (gate_ && !gate_->mayGrant(model, *ticket)) return;
    Lease l = tryAcquire(model, nullptr, it->second->traits);
    if (!l) return;
    q.pop();
    it->second->granted = std::move(l);
    it->second->timer.cancel();
  }
}

void Admission::rejectAll(const std::string& model, const Rejection& r) {
  AdmissionQueue& q = queueOf(model);
  while (auto ticket = q.pop()) {
    auto it = waiters_.find(*ticket);
    if (it == waiters_.end()) continue;
    it->second->rejected = r;
    it->second->timer.cancel();
  }
}

void Admission::onDirectoryChanged() {
  if (gate_) gate_->directoryChanged();
  const TimePoint now = clock_.now();
  for (auto& [model, q] : queues_) {
    if (q.empty()) continue;
    if (dir_.anyRoutable(model, now)) drain(model);
    else if (gate_ && gate_->loadable(model)) gate_->waiting(model);  // being loaded (again)
    else  // (a local-only waiter may still wait on a remote-only model: it times out)
      rejectAll(model, {503, "no_ready_worker", "model '" + model + "' lost its last ready worker", 2});
  }
}

void Admission::failWaiting(const std::string& model, const Rejection& r) {
  rejectAll(model, r);  // each waiter counts its rejection as it returns it
}

std::optional<uint64_t> Admission::frontTicket(const std::string& model) const {
  auto it = queues_.find(model);
  return it == queues_.end() ? std::nullopt : it->second.front();
}

std::size_t Admission::queued(const std::string& model) const {
  auto it = queues_.find(model);
  return it == queues_.end() ? 0 : it->second.size();
}

uint64_t Admission::rejected(const std::string& code) const {
  auto it = rejectedByCode_.find(code);
  return it == rejectedByCode_.end() ? 0 : it->second;
}

}  // namespace qmesh::router
