#include "router/proxy/session_registry.h"

#include <vector>

#include "router/proxy/client_link.h"

namespace qmesh::router {

SessionRegistry::Membership::Membership(SessionRegistry& registry, ClientLink& session, Kind kind)
    : registry_(registry), session_(session), kind_(kind) {
  registry_.members_.insert(this);
  if (kind_ == Kind::Hop) ++registry_.hopSessions_;
}

SessionRegistry::Membership::~Membership() {
  if (kind_ == Kind::Hop) --registry_.hopSessions_;
  if (!member_) return;  // evicted: it left then (and the last to leave said so)
  leave();
  if (registry_.members_.empty() && registry_.draining_ && registry_.onAllClosed_) registry_.onAllClosed_();
}

void SessionRegistry::Membership::setIdle(bool idle) {
  if (idle == idle_) return;
  idle_ = idle;
  if (kind_ != Kind::Client || !member_) return;
  auto& list = registry_.idleClients_;
  if (idle)
    idlePos_ = list.insert(list.end(), this);
  else
    list.erase(idlePos_);
}

void SessionRegistry::Membership::leave() {
  setIdle(false);
  registry_.members_.erase(this);
  member_ = false;
}

bool SessionRegistry::evictLongestIdle() {
  if (idleClients_.empty()) return false;
  Membership* m = idleClients_.front();
  m->leave();
  // Idle: nothing watches the client, so this only closes the connection.
  m->session_.forceClose();
  return true;
}

void SessionRegistry::drain(std::function<void()> onAllClosed) {
  draining_ = true;
  onAllClosed_ = std::move(onAllClosed);
  // A copy: closing may destroy sessions, which leave the set.
  std::vector<ClientLink*> sessions;
  for (Membership* m : members_) sessions.push_back(&m->session_);
  for (ClientLink* s : sessions) s->closeIfIdle();
}

void SessionRegistry::forceCloseAll() {
  std::vector<ClientLink*> sessions;
  for (Membership* m : members_) sessions.push_back(&m->session_);
  for (ClientLink* s : sessions) s->forceClose();
}

}  // namespace qmesh::router
