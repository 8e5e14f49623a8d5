// Forwards one model request: admission (slot or queue), the attempt on the chosen worker,
// one retry on another worker when connecting fails or it answers 5xx before any byte
// reached the client, and the relay of the response, event by event.
//
// The client is watched the whole time: when it hangs up (queued, or between two events)
// the upstream connection is closed at once so llama-server frees the slot.
#pragma once

#include <memory>
#include <optional>

#include "router/net.h"
#include "router/proxy/http_session.h"
#include "router/proxy/upstream_client.h"

namespace qmesh::router {

class Forwarder {
 public:
  Forwarder(HttpSession& session, const http::request<http::string_body>& req, RequestCtx& ctx, bool stream);
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // true when the client connection can take another request.
  net::awaitable<bool> run();

 private:
  net::awaitable<bool> attempts(Lease lease);
  net::awaitable<bool> relay(UpstreamClient& up);
  net::awaitable<error_code> writeBody(const char* data, std::size_t n, bool chunked);
  http::request<http::span_body<const char>> upstreamRequest(const Worker& w) const;
  void onClientGone();
  void startTicker();
  void onTick();
  bool clientGone() const { return session_.clientGone(); }

  HttpSession& session_;
  RouterState& st_;
  const http::request<http::string_body>& req_;
  RequestCtx& ctx_;
  bool stream_;
  uint64_t ticket_ = 0;
  std::optional<UpstreamClient> up_;
  // One timer per relay, not one per event (re-arming per event cost more CPU than the
  // relay itself): it injects the idle keepalive and cuts a client that stopped reading.
  net::steady_timer ticker_;
  bool keepaliveDue_ = false;
  bool sse_ = false;
  bool writing_ = false;
  TimePoint lastWrite_{};   // end of the last write to the client
  TimePoint writeStart_{};
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // guards late timer handlers
};

}  // namespace qmesh::router
