#include "router/proxy/relay_deadlines.h"

#include <algorithm>

namespace qmesh::router {

RelayTimeouts relayTimeouts(const RouterConfig& config, bool sse, bool continuable) {
  return {sse, continuable, config.keepalive_interval, config.write_timeout, config.stall_timeout};
}

RelayDue relayDue(const RelayTimeouts& t, const RelayTimes& s, TimePoint now) {
  RelayDue d;
  if (s.writing) {
    d.cut = now - s.writeStart >= t.write;
    return d;
  }
  if (s.failingOver) return d;
  if (t.continuable) {
    d.stall = now - s.lastUpstream >= t.stall;
    d.checkWorker = !d.stall;
  }
  d.keepalive = t.sse && now - s.lastWrite >= t.keepalive;
  return d;
}

TimePoint nextRelayTick(const RelayTimeouts& t, const RelayTimes& s, TimePoint now) {
  // A deadline not acted on when it passed is looked at again a period later.
  const auto upcoming = [now](TimePoint at, Millis period) { return at > now ? at : now + period; };
  // Not writing: a write that starts after now is looked at within write_timeout.
  TimePoint at = s.writing ? upcoming(s.writeStart + t.write, t.write) : now + t.write;
  if (!s.writing && !s.failingOver) {
    if (t.sse) at = std::min(at, upcoming(s.lastWrite + t.keepalive, t.keepalive));
    if (t.continuable) at = std::min(at, upcoming(s.lastUpstream + t.stall, t.stall));
  }
  if (t.continuable) at = std::min(at, now + kWorkerCheck);
  return std::max(at, now + std::chrono::milliseconds(1));
}

}  // namespace qmesh::router
