// The requests this router is forwarding right now, for the console's "Live requests" view
// and its cancel button, and the request_started / request_finished events. A
// LiveRequestGuard lives as long as one Forwarder::run: it registers the request, publishes
// request_started, and on the way out request_finished (and a recent error for a status of
// 400 or more, except 499: the client left). Single-threaded (the router's io_context).
#pragma once

#include <cstdint>
#include <deque>
#include <list>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "router/net.h"

namespace qmesh::router {

class ClientLink;
class EventBus;
struct RequestCtx;

class LiveRequests {
 public:
  struct Entry {
    RequestCtx* ctx;
    ClientLink* link;
  };

  std::list<Entry>::iterator add(RequestCtx& ctx, ClientLink& link);
  void remove(std::list<Entry>::iterator it);
  // [{id, model, path, route, elapsed_ms, tokens, from}], oldest first.
  nlohmann::json list(TimePoint now) const;
  // Ends the request with this id (the first such, ids come from clients) as a client
  // hanging up would: the upstream is closed, llama-server frees the slot. False: none.
  bool cancel(std::string_view id);
  std::size_t size() const { return entries_.size(); }

 private:
  std::list<Entry> entries_;
};

// The last errors (a status of 400 or more) of forwarded requests, newest last.
class RecentErrors {
 public:
  static constexpr std::size_t kKept = 50;
  void add(nlohmann::json error);
  nlohmann::json list() const;

 private:
  std::deque<nlohmann::json> errors_;
};

class LiveRequestGuard {
 public:
  LiveRequestGuard(ClientLink& link, RequestCtx& ctx);
  ~LiveRequestGuard();
  LiveRequestGuard(const LiveRequestGuard&) = delete;
  LiveRequestGuard& operator=(const LiveRequestGuard&) = delete;

 private:
  ClientLink& link_;
  RequestCtx& ctx_;
  std::list<LiveRequests::Entry>::iterator it_;
};

}  // namespace qmesh::router
