// Relays one upstream response to the client: the header (ours, not the worker's
// hop-by-hop fields), then the body piece by piece, so every SSE event goes on the moment
// it arrives. On an idle event stream it injects a keepalive comment between events; a
// client that stops reading is cut after router.write_timeout (relay_deadlines.h).
//
// One relay for every response. A streamed chat or completion also gets a
// StreamContinuation (stream_continuation.h), which lets it survive its worker: the relay
// then passes on whole events only, watches for a stalled or lost worker, and on a failure
// lets the continuation move the stream to another worker. Per event that costs the plain
// relay's scan plus a copy of the event kept for the next worker's request; the events are
// parsed only when a continuation happens.
#pragma once

#include <memory>
#include <string>

#include "router/net.h"
#include "router/proxy/client_link.h"
#include "router/proxy/relay_deadlines.h"
#include "router/proxy/sse.h"
#include "router/proxy/upstream_connector.h"

namespace qmesh::router {

class StreamContinuation;

// Hop-by-hop and framing header fields: ours, not the worker's, on any relayed response.
bool isHopByHop(http::field f);
double secondsBetween(TimePoint from, TimePoint to);
// Big enough that a multi-megabyte non-streamed body moves in few syscalls; SSE reads
// return whatever arrived, so this never delays an event.
inline constexpr std::size_t kRelayBuffer = 64 * 1024;

class ResponseRelay {
 public:
  // `up` is the Forwarder's connector, past the response header. With a `continuation`, the
  // stream may move to another worker: `up` is then replaced in place, so the Forwarder's
  // client-gone handler closes whichever upstream is current.
  ResponseRelay(ClientLink& client, RequestCtx& ctx, std::unique_ptr<UpstreamConnector>& up,
                StreamContinuation* continuation = nullptr);
  ~ResponseRelay();
  ResponseRelay(const ResponseRelay&) = delete;
  ResponseRelay& operator=(const ResponseRelay&) = delete;

  // true when the client connection can take another request.
  net::awaitable<bool> run();

 private:
  net::awaitable<error_code> writeHeader(bool keep);
  net::awaitable<error_code> write(std::string_view bytes);
  net::awaitable<bool> relayBody();
  // After the body: what a continuation still owes, then the chunked terminator.
  net::awaitable<bool> finish();
  // The worker failed: an SSE error event for the client where one can go.
  net::awaitable<void> endBroken(const error_code& rec);
  void startTicker();
  void onTick();
  TimePoint now() const;  // the injected clock (router_context.h)

  ClientLink& client_;
  RouterContext& st_;
  RequestCtx& ctx_;
  std::unique_ptr<UpstreamConnector>& up_;
  StreamContinuation* cont_;
  SseScanner scanner_;  // the plain relay's view of events (a continuation frames its own)
  RelayTimeouts timeouts_;
  RelayTimes times_;
  bool chunked_ = false;
  bool lengthKnown_ = false;
  // One timer per relay, not one per event (relay_deadlines.h).
  net::steady_timer ticker_;
  bool keepaliveDue_ = false;
  std::string trigger_;  // set by the ticker before it cancels the read: stall, worker_down
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // guards late timer handlers
};

}  // namespace qmesh::router
