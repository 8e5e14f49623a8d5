// Lets a streamed chat or completion (SSE) survive its worker (issue 12): when the upstream
// fails after the first byte, the generation continues on another ready worker of the same
// model and GGUF digest, and the client sees one unbroken stream.
//
// What counts as the upstream failing (ResponseRelay notices, relay_deadlines.h times it):
//   reset       the connection broke (a killed worker, a dead node's channel)
//   eof         the body ended before "data: [DONE]"
//   stall       no byte for router.stall_timeout after the header (a SIGSTOPped worker)
//   worker_down the supervisor reports the worker no longer ready, or the mesh dropped its node
//
// A capability of the one relay (response_relay.h), given to it for a 200 event stream with
// chunked framing on the two continuable endpoints. The client only ever receives whole
// events (stream_edit.h's EventFramer), so a cut never leaves half an event behind. The next
// worker gets continuationBody() (continuation_request.h) and its events are rewritten by
// StreamEditor. A refusal (continuation_request.h's reasons, plus "tool_calls", "no_worker",
// "limit" after router.max_continuations) ends the stream with an OpenAI error event (code
// upstream_error, the reason in its message), which the official SDKs raise, then a body
// without its terminator, never with [DONE]. A router serving a hop for another router sends
// no such event: it only breaks the stream, and the entry router, which sees the same break,
// continues it or refuses.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "router/net.h"
#include "router/proxy/client_link.h"
#include "router/proxy/stream_edit.h"
#include "router/proxy/upstream_connector.h"
#include "router/routing/admission.h"

namespace qmesh::router {

// How a failover ended, for the relay.
struct Failover {
  enum class Then {
    Resumed,  // the next worker's stream follows (the connector was replaced)
    Finish,   // the client has every token: only the stream's end (tail()) is owed
    Broken,   // the stream ends broken, after errorEvent if there is one
  };
  Then then = Then::Broken;
  std::string errorEvent;
};

class StreamContinuation {
 public:
  // `up` is the Forwarder's connector to the first worker, already past its header; it is
  // replaced in place at a continuation so the Forwarder's client-gone handler closes
  // whichever upstream is current. `lease` is that worker's slot.
  StreamContinuation(ClientLink& client, RequestCtx& ctx, const http::request<http::string_body>& req, StreamKind kind,
                     Lease lease, std::unique_ptr<UpstreamConnector>& up);
  StreamContinuation(const StreamContinuation&) = delete;
  StreamContinuation& operator=(const StreamContinuation&) = delete;

  // Body bytes from the current worker -> what the client gets now: whole events only; the
  // first worker's verbatim (a view into `bytes` unless an event was held back), a
  // continuing worker's rewritten. Valid until the next call.
  std::string_view pass(std::string_view bytes);
  // An event longer than EventFramer::kMaxEventBytes: not SSE, the stream is cut.
  bool overflow() const { return framer_.overflow(); }
  uint64_t events() const { return framer_.events(); }
  bool sawDone() const { return editor_.sawDone(); }
  // The supervisor reports the worker no longer ready, or the mesh dropped it.
  bool workerDown() const;
  const std::string& workerId() const { return lease_.worker()->id; }

  // The current worker failed (`trigger`): continue on another, or say how the stream ends.
  net::awaitable<Failover> failOver(const std::string& trigger);
  // What the client is owed after the last event: [DONE] when no worker sent it, and a
  // continued stream's route comment.
  std::string tail() const;

 private:
  net::awaitable<bool> startOn(Lease& lease);
  Failover refuse(const std::string& reason, const std::string& message);
  std::optional<std::string> refusal();

  ClientLink& client_;
  RouterContext& st_;
  RequestCtx& ctx_;
  const http::request<http::string_body>& req_;
  StreamKind kind_;
  Lease lease_;
  std::unique_ptr<UpstreamConnector>& up_;
  EventFramer framer_;
  StreamEditor editor_;
  std::string rewritten_;  // pass()'s result once the stream was continued
  std::string nextBody_;   // the continuation request's body, alive while it is sent
};

}  // namespace qmesh::router
