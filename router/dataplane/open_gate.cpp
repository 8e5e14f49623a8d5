#include "router/dataplane/open_gate.h"

namespace qmesh::dataplane {

OpenGate::Ticket::~Ticket() {
  if (gate_) gate_->release(peer_);
}

net::awaitable<std::optional<OpenGate::Ticket>> OpenGate::enter(NodeId peer,
                                                                std::chrono::steady_clock::time_point deadline) {
  Peer& p = peers_[peer];
  // Below the cap no waiter is left unwoken (wakeNext), so taking the slot jumps no queue.
  if (p.opening < perPeer_) {
    ++p.opening;
    co_return Ticket(*this, peer);
  }
  net::steady_timer timer(co_await net::this_coro::executor, deadline);
  const auto self = p.waiters.insert(p.waiters.end(), Waiter{&timer});
  // Leaves the queue however the wait ends, a destroyed coroutine included; a slot that was
  // held for this waiter and not taken goes to the next one.
  struct LeaveQueue {
    OpenGate& gate;
    const NodeId& peer;
    std::list<Waiter>::iterator self;
    bool taken = false;
    ~LeaveQueue() {
      const bool heldForUs = self->woken && !taken;
      const auto it = gate.peers_.find(peer);
      it->second.waiters.erase(self);
      if (heldForUs)
        gate.release(peer);
      else if (it->second.opening == 0 && it->second.waiters.empty())
        gate.peers_.erase(it);
    }
  } leave{*this, peer, self};
  error_code ec;
  co_await timer.async_wait(awaitEc(ec));
  // Not ec: the timer may have expired with the wake-up already on its way. A slot that
  // reaches us after the deadline goes on to the next waiter (LeaveQueue).
  if (!self->woken || std::chrono::steady_clock::now() >= deadline) co_return std::nullopt;
  leave.taken = true;
  co_return Ticket(*this, peer);
}

void OpenGate::wakeNext(Peer& p) {
  for (auto& w : p.waiters) {
    if (p.opening >= perPeer_) return;
    if (w.woken) continue;
    w.woken = true;
    ++p.opening;  // held for it, so a newcomer cannot take it first
    w.timer->cancel();
  }
}

void OpenGate::release(const NodeId& peer) {
  const auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  Peer& p = it->second;
  if (p.opening > 0) --p.opening;
  wakeNext(p);
  if (p.opening == 0 && p.waiters.empty()) peers_.erase(it);
}

std::size_t OpenGate::opening(const NodeId& peer) const {
  const auto it = peers_.find(peer);
  return it == peers_.end() ? 0 : it->second.opening;
}

std::size_t OpenGate::waiting(const NodeId& peer) const {
  const auto it = peers_.find(peer);
  return it == peers_.end() ? 0 : it->second.waiters.size();
}

}  // namespace qmesh::dataplane
