#include "router/proxy/stream_continuation.h"

#include <algorithm>
#include "common/logging.h"

#include "router/proxy/bounded_json.h"
#include "router/proxy/routes.h"
#include "router/proxy/sse.h"
#include "router/router_services.h"

namespace qmesh::router {

StreamContinuation::StreamContinuation(ClientLink& client, RequestCtx& ctx, const http::request<http::string_body>& req,
                                       StreamKind kind, Lease lease, std::unique_ptr<UpstreamConnector>& up)
    : client_(client),
      st_(client.services().context),
      ctx_(ctx),
      req_(req),
      kind_(kind),
      lease_(std::move(lease)),
      up_(up),
      editor_(kind) {}

std::string_view StreamContinuation::pass(std::string_view bytes) {
  const std::string_view events = framer_.push(bytes);
  if (events.empty()) return events;
  if (editor_.continuations() == 0) {
    editor_.sentVerbatim(events);
    return events;
  }
  rewritten_ = editor_.rewrite(events);
  return rewritten_;
}

bool StreamContinuation::workerDown() const {
  const Worker& w = *lease_.worker();
  if (w.info.state != WorkerState::Ready) return true;
  const auto& list = st_.directory.workersOf(ctx_.model);
  return std::none_of(list.begin(), list.end(), [&](const WorkerPtr& p) { return p.get() == &w; });
}

std::string StreamContinuation::tail() const {
  std::string tail;
  if (!editor_.sawDone()) tail += "data: [DONE]\n\n";
  if (editor_.continuations() > 0) tail += sseComment("qmesh-route " + ctx_.route);
  return tail;
}

std::optional<std::string> StreamContinuation::refusal() {
  const BoundedJson body = parseBoundedJson(req_.body());
  if (body.outcome != BoundedJson::Outcome::Ok || !body.value.is_object()) return "request";
  if (auto r = requestRefusal(body.value, kind_)) return r;
  if (editor_.progress().toolCalls) return "tool_calls";
  if (editor_.continuations() >= st_.config.max_continuations) return "limit";
  nextBody_ = continuationBody(body.value, kind_, editor_.progress())
                  .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return std::nullopt;
}

net::awaitable<Failover> StreamContinuation::failOver(const std::string& trigger) {
  const WorkerPtr failed = lease_.worker();
  ++failed->failures;
  st_.metrics.upstreamError(ctx_.model, up_->errorKind("reset_mid_response"));
  up_->close();
  const StreamProgress& p = editor_.progress();
  if (p.error) co_return Failover{};                          // the client's SDK raised already
  if (p.finished) co_return Failover{Failover::Then::Finish, {}};  // only [DONE] was missing
  if (auto why = refusal())
    co_return refuse(*why, "the worker's stream broke mid-response (" + trigger +
                               ") and cannot be continued elsewhere: " + *why);
  const std::string digest = failed->info.digest;
  const RequestTraits traits{ctx_.affinity, !ctx_.fromPeer.empty(), &digest};
  // Two candidates at most: a third failure in a row says the model, not a worker, is ill.
  const Worker* exclude = failed.get();
  for (int i = 0; i < 2; ++i) {
    Lease next = st_.admission->tryAcquire(ctx_.model, exclude, traits);
    if (!next) break;
    if (co_await startOn(next)) {
      const std::string from = failed->id;
      lease_ = std::move(next);
      editor_.continued();
      framer_.restart();
      st_.metrics.streamContinued(ctx_.model, trigger);
      ctx_.route += ", continued on " + up_->route(st_.config.node_name, lease_.reason()) + " after " + trigger;
      spdlog::info("req={} stream continued on {} after {} of {} ({} tokens sent)", ctx_.id, lease_.worker()->id,
                   trigger, from, editor_.progress().tokens);
      co_return Failover{Failover::Then::Resumed, {}};
    }
    if (client_.clientGone()) co_return Failover{};
    exclude = next.worker().get();
  }
  co_return refuse("no_worker", "the worker's stream broke mid-response (" + trigger +
                                    ") and no other ready worker of '" + ctx_.model +
                                    "' with the same model file could continue it");
}

// Connect, send the continuation, read a 200 event-stream header; on success the connector
// replaces the Forwarder's.
net::awaitable<bool> StreamContinuation::startOn(Lease& lease) {
  Worker& w = *lease.worker();
  for (bool fresh = false;; fresh = true) {
    auto up = makeUpstreamConnector(w, client_.services(), client_.executor());
    error_code ec = co_await up->connect(fresh);
    if (!ec) {
      UpstreamRequest r{req_.method(), req_.target(), 11};
      r.set(http::field::content_type, "application/json");
      r.set(http::field::accept, "text/event-stream");
      r.set("x-request-id", ctx_.id);
      r.body() = beast::span<const char>(nextBody_.data(), nextBody_.size());
      up->prepare(r);
      r.prepare_payload();
      ec = co_await up->send(r);
      if (!ec) ec = co_await up->readHeader();
    } else {
      up->markUnreachable();
    }
    if (ec && up->reused() && !fresh && !client_.clientGone()) continue;  // a pooled channel the peer closed
    const bool good = !ec && up->header().result_int() == 200 && up->isEventStream();
    if (!good) {
      ++w.failures;
      spdlog::warn("req={} continuation on {} failed ({})", ctx_.id, w.id,
                   ec ? ec.message() : "status " + std::to_string(up->header().result_int()));
      co_return false;
    }
    up_ = std::move(up);
    co_return true;
  }
}

Failover StreamContinuation::refuse(const std::string& reason, const std::string& message) {
  st_.metrics.streamContinuationRefused(ctx_.model, reason);
  spdlog::warn("req={} stream not continued: {}", ctx_.id, message);
  // A hop's entry router sees the same break and decides: it may have workers we lack.
  if (!ctx_.fromPeer.empty()) return Failover{};
  // As the relay does for any broken stream: the error event, then a body without its
  // terminator, so neither an SDK nor curl takes the stream for complete.
  return Failover{Failover::Then::Broken, "data: " + openaiError(message, errorTypeFor(502), "upstream_error") + "\n\n"};
}

}  // namespace qmesh::router
