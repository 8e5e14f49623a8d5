// Relays one upstream response to the client: the header (ours, not the worker's
// hop-by-hop fields), then the body piece by piece, so every SSE event goes on the moment
// it arrives. On an idle event stream it injects a keepalive comment between events; a
// client that stops reading is cut after router.write_timeout.
#pragma once

#include <memory>

#include "router/net.h"
#include "router/proxy/client_link.h"
#include "router/proxy/upstream_connector.h"

namespace qmesh::router {

// Hop-by-hop and framing header fields: ours, not the worker's, on any relayed response.
bool isHopByHop(http::field f);
double secondsSince(TimePoint t);
// Big enough that a multi-megabyte non-streamed body moves in few syscalls; SSE reads
// return whatever arrived, so this never delays an event.
inline constexpr std::size_t kRelayBuffer = 64 * 1024;

class ResponseRelay {
 public:
  ResponseRelay(ClientLink& client, RequestCtx& ctx, UpstreamConnector& up);
  ~ResponseRelay();
  ResponseRelay(const ResponseRelay&) = delete;
  ResponseRelay& operator=(const ResponseRelay&) = delete;

  // true when the client connection can take another request.
  net::awaitable<bool> run();

 private:
  net::awaitable<error_code> writeBody(const char* data, std::size_t n, bool chunked);
  void startTicker();
  void onTick();

  ClientLink& client_;
  RouterContext& st_;
  RequestCtx& ctx_;
  UpstreamConnector& up_;
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
