// Relays a streamed chat or completion (SSE) so that it survives its worker (issue 12):
// when the upstream fails after the first byte, the generation continues on another ready
// worker of the same model and GGUF digest, and the client sees one unbroken stream.
//
// What counts as the upstream failing:
//   reset       the connection broke (a killed worker, a dead node's channel)
//   eof         the body ended before "data: [DONE]"
//   stall       no byte for router.stall_timeout after the header (a SIGSTOPped worker)
//   worker_down the supervisor reports the worker no longer ready, or the mesh dropped its node
//
// The client only ever receives whole events (stream_edit.h's EventFramer), so a cut never
// leaves half an event behind. The next worker gets continuationBody() (continuation_request.h)
// and its events are rewritten by StreamEditor. A refusal (continuation_request.h's reasons,
// plus "tool_calls", "no_worker", "limit" after router.max_continuations) ends the stream
// with an OpenAI error event (code upstream_error, the reason in its message), which the
// official SDKs raise, then a body without its terminator, never with [DONE]. A router
// serving a hop for another router sends no such event: it only breaks the stream, and the
// entry router, which sees the same break, continues it or refuses.
//
// Used instead of ResponseRelay for a 200 event stream with chunked framing on the two
// continuable endpoints; ResponseRelay still relays everything else.
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

class StreamContinuation {
 public:
  // `up` is the Forwarder's connector to the first worker, already past its header; it is
  // replaced in place at a continuation so the Forwarder's client-gone handler closes
  // whichever upstream is current. `lease` is that worker's slot.
  StreamContinuation(ClientLink& client, RequestCtx& ctx, const http::request<http::string_body>& req, StreamKind kind,
                     Lease lease, std::unique_ptr<UpstreamConnector>& up);
  ~StreamContinuation();
  StreamContinuation(const StreamContinuation&) = delete;
  StreamContinuation& operator=(const StreamContinuation&) = delete;

  // true when the client connection can take another request.
  net::awaitable<bool> run();

 private:
  enum class After { Resumed, Finished, Broken };
  net::awaitable<bool> writeHeader();
  net::awaitable<error_code> write(std::string_view bytes);
  net::awaitable<After> failOver(const std::string& trigger);
  net::awaitable<bool> startOn(Lease& lease);
  net::awaitable<After> refuse(const std::string& reason, const std::string& message);
  net::awaitable<After> finishStream();
  std::optional<std::string> refusal();
  bool workerDown() const;
  void startTicker();
  void onTick();

  ClientLink& client_;
  RouterContext& st_;
  RequestCtx& ctx_;
  const http::request<http::string_body>& req_;
  StreamKind kind_;
  Lease lease_;
  std::unique_ptr<UpstreamConnector>& up_;
  EventFramer framer_;
  StreamEditor editor_;
  std::string nextBody_;   // the continuation request's body, alive while it is sent
  std::string trigger_;    // set by the ticker before it cancels the read: stall, worker_down
  net::steady_timer ticker_;
  bool keepaliveDue_ = false;
  bool failingOver_ = false;  // the ticker leaves the old worker alone meanwhile
  bool writing_ = false;
  TimePoint lastWrite_{}, writeStart_{}, lastUpstream_{};
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // guards late timer handlers
};

}  // namespace qmesh::router
