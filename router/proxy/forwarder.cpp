#include "router/proxy/forwarder.h"

#include <optional>

#include "common/logging.h"

#include "router/console/live_requests.h"
#include "router/proxy/response_relay.h"
#include "router/proxy/stream_continuation.h"
#include "router/router_services.h"

namespace qmesh::router {

Forwarder::Forwarder(ClientLink& client, const http::request<http::string_body>& req, RequestCtx& ctx, bool stream)
    : client_(client), st_(client.services().context), req_(req), ctx_(ctx), stream_(stream) {}

Forwarder::~Forwarder() { client_.stopWatching(); }

void Forwarder::onClientGone() {
  if (up_) up_->close();
  st_.admission->cancel(ticket_);
  st_.metrics.clientGone(ctx_.model);
  spdlog::info("req={} client hung up after {:.1f} ms; upstream closed", ctx_.id, secondsBetween(ctx_.start, st_.clock.now()) * 1000);
}

net::awaitable<bool> Forwarder::run() {
  const LiveRequestGuard live(client_, ctx_);  // the console's live requests and events
  client_.watchClient([this] { onClientGone(); });
  ticket_ = st_.admission->newTicket();
  AdmissionResult ar = co_await st_.admission->acquire(ctx_.model, ticket_, traits());
  if (client_.clientGone()) {
    ctx_.status = 499;  // nginx's "client closed request": nobody was left to answer
    co_return false;
  }
  if (!ar.lease) {
    client_.stopWatching();
    const Rejection& r = *ar.rejection;
    co_return co_await client_.writeError(ctx_, r.status, r.code, r.message, r.retry_after_s);
  }
  co_return co_await attempts(std::move(ar.lease));
}

UpstreamRequest Forwarder::upstreamRequest() const {
  UpstreamRequest r{req_.method(), req_.target(), 11};
  const auto ct = req_[http::field::content_type];
  r.set(http::field::content_type, ct.empty() ? beast::string_view("application/json") : ct);
  if (const auto accept = req_[http::field::accept]; !accept.empty()) r.set(http::field::accept, accept);
  r.set("x-request-id", ctx_.id);
  r.body() = beast::span<const char>(req_.body().data(), req_.body().size());
  up_->prepare(r);
  r.prepare_payload();
  return r;
}

// Connect, send, read the header. A pooled connection that fails before any byte of the
// request was written was most likely closed by its peer's keep-alive timeout as we reused
// it (or a restart): not the worker's failure, so the same worker is tried once more on a
// fresh connection. Once some of it was written, the request may have reached the worker
// (a completion is not idempotent: it costs a slot and compute), so it is not sent again
// there; that failure counts like any other ("reset").
net::awaitable<Forwarder::Outcome> Forwarder::tryWorker(Worker& w, const std::string& why) {
  for (bool fresh = false;; fresh = true) {
    up_ = makeUpstreamConnector(w, client_.services(), client_.executor());
    ctx_.route = up_->route(st_.config.node_name, why);
    Outcome o;
    o.ec = co_await up_->connect(fresh);
    o.connected = !o.ec;
    if (o.connected) {
      auto ureq = upstreamRequest();
      o.ec = co_await up_->send(ureq);
      if (!o.ec) o.ec = co_await up_->readHeader();
    }
    // Not so for timed_out: the peer went silent (dataplane/tcp_liveness.h), and a fresh
    // connect would only wait out connect_timeout on it too.
    if (o.ec && up_->reused() && !up_->sentAny() && o.ec != net::error::timed_out && !client_.clientGone()) {
      spdlog::debug("req={} pooled connection for {} was closed ({}): reconnecting", ctx_.id, w.id, o.ec.message());
      continue;
    }
    if (!o.ec) {
      o.status = up_->header().result_int();
      ctx_.route = up_->route(st_.config.node_name, why);  // now with the next node's own route
    }
    co_return o;
  }
}

net::awaitable<bool> Forwarder::attempts(Lease lease) {
  std::string retryNote;
  for (int attempt = 0;; ++attempt) {
    Worker& w = *lease.worker();
    const Outcome o = co_await tryWorker(w, lease.reason() + retryNote);
    if (client_.clientGone()) {
      ctx_.status = 499;
      co_return false;
    }
    if (!o.ec && o.status < 500) break;
    if (!o.ec && attempt > 0) break;  // a second 5xx goes to the client as it is
    // Nothing reached the client yet, so trying another worker is safe.
    const std::string kind = up_->errorKind(!o.connected ? "connect" : o.ec ? "reset" : "http_5xx");
    ++w.failures;
    st_.metrics.upstreamError(ctx_.model, kind);
    // A refused connect is local evidence of death, acted on at once; gossip confirms it.
    if (!o.connected) up_->markUnreachable();
    spdlog::warn("req={} worker {} failed before the first byte ({}{}{})", ctx_.id, w.id, kind,
                 o.ec ? ": " + o.ec.message() : "", o.status ? " " + std::to_string(o.status) : "");
    Lease next = attempt == 0 ? st_.admission->tryAcquire(ctx_.model, &w, traits()) : Lease{};
    if (next) {
      retryNote = "; retry after " + kind + " on " + w.id;
      st_.metrics.retried(ctx_.model);
      up_.reset();
      lease = std::move(next);
      continue;
    }
    if (!o.ec) break;  // the 5xx itself is the best answer left
    co_return co_await giveUp(w, o);
  }
  ++lease.worker()->served;
  // A streamed chat or completion survives its worker (stream_continuation.h).
  const auto kind = continuableKind(ctx_.path);
  std::optional<StreamContinuation> continuation;
  if (stream_ && kind && up_->header().result_int() == 200 && up_->isEventStream() && ctx_.version >= 11 &&
      up_->header()[http::field::content_length].empty())
    continuation.emplace(client_, ctx_, req_, *kind, std::move(lease), up_);
  ResponseRelay relay(client_, ctx_, up_, continuation ? &*continuation : nullptr);
  const bool keep = co_await relay.run();
  if (!client_.clientGone()) up_->releaseForReuse();
  up_.reset();
  co_return keep;
}

net::awaitable<bool> Forwarder::giveUp(const Worker& w, const Outcome& o) {
  up_.reset();
  client_.stopWatching();
  if (!o.connected)
    co_return co_await client_.writeError(ctx_, 503, "no_ready_worker",
                                          "worker " + w.id + " refused the connection (" + o.ec.message() +
                                              ") and no other ready worker serves '" + ctx_.model + "'",
                                          2);
  co_return co_await client_.writeError(ctx_, 502, "upstream_error",
                                        "worker " + w.id + " closed the connection before answering (" +
                                            o.ec.message() + ")");
}

}  // namespace qmesh::router
