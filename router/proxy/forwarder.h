// Forwards one model request: admission (slot or queue), the attempt on the chosen worker
// through its UpstreamConnector (local llama-server or mesh peer alike), one retry on
// another worker when connecting fails or it answers 5xx before any byte reached the
// client, then the ResponseRelay.
//
// The client is watched the whole time: when it hangs up (queued, or between two events)
// the upstream connection is closed at once so llama-server frees the slot.
#pragma once

#include <memory>
#include <string>

#include "router/net.h"
#include "router/proxy/client_link.h"
#include "router/proxy/upstream_connector.h"
#include "router/routing/admission.h"

namespace qmesh::router {

class Forwarder {
 public:
  Forwarder(ClientLink& client, const http::request<http::string_body>& req, RequestCtx& ctx, bool stream);
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // true when the client connection can take another request.
  net::awaitable<bool> run();

 private:
  // What one try on one worker came to, before any byte reached the client.
  struct Outcome {
    error_code ec;
    bool connected = false;
    int status = 0;  // the worker's, when it answered
  };
  net::awaitable<bool> attempts(Lease lease);
  net::awaitable<Outcome> tryWorker(Worker& w, const std::string& why);
  net::awaitable<bool> giveUp(const Worker& w, const Outcome& o);
  UpstreamRequest upstreamRequest() const;
  void onClientGone();
  RequestTraits traits() const { return {ctx_.affinity, !ctx_.fromPeer.empty()}; }

  ClientLink& client_;
  RouterContext& st_;
  const http::request<http::string_body>& req_;
  RequestCtx& ctx_;
  bool stream_;
  uint64_t ticket_ = 0;
  std::unique_ptr<UpstreamConnector> up_;
};

}  // namespace qmesh::router
