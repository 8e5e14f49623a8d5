#include "router/proxy/response_relay.h"

#include "common/logging.h"

#include "router/proxy/routes.h"
#include "router/proxy/stream_continuation.h"
#include "router/router_services.h"

namespace qmesh::router {

bool isHopByHop(http::field f) {
  switch (f) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::transfer_encoding:
    case http::field::content_length:
    case http::field::te:
    case http::field::trailer:
    case http::field::upgrade:
    case http::field::proxy_authenticate:
    case http::field::proxy_authorization:
      return true;
    default:
      return false;
  }
}

double secondsBetween(TimePoint from, TimePoint to) { return std::chrono::duration<double>(to - from).count(); }

ResponseRelay::ResponseRelay(ClientLink& client, RequestCtx& ctx, std::unique_ptr<UpstreamConnector>& up,
                             StreamContinuation* continuation)
    : client_(client),
      st_(client.services().context),
      ctx_(ctx),
      up_(up),
      cont_(continuation),
      ticker_(client.executor()) {}

ResponseRelay::~ResponseRelay() { ticker_.cancel(); }

TimePoint ResponseRelay::now() const { return st_.clock.now(); }

void ResponseRelay::startTicker() {
  const TimePoint t = now();
  ticker_.expires_after(nextRelayTick(timeouts_, times_, t) - t);
  ticker_.async_wait([this, alive = std::weak_ptr<int>(alive_)](error_code ec) {
    if (!ec && !alive.expired()) onTick();
  });
}

void ResponseRelay::onTick() {
  const RelayDue due = relayDue(timeouts_, times_, now());
  if (due.cut) {
    spdlog::warn("req={} client read nothing for {} ms: dropping it", ctx_.id, timeouts_.write.count());
    client_.forceClose();  // runs the Forwarder's onClientGone: the upstream goes too
    return;
  }
  if (trigger_.empty()) {
    if (due.stall) trigger_ = "stall";
    else if (due.checkWorker && cont_->workerDown()) trigger_ = "worker_down";
    if (!trigger_.empty()) {
      up_->cancelRead();  // the relay fails over itself
    } else if (due.keepalive) {
      keepaliveDue_ = true;
      up_->cancelRead();  // wakes the relay, which writes the comment itself
    }
  }
  startTicker();
}

net::awaitable<error_code> ResponseRelay::writeHeader(bool keep) {
  const auto& uh = up_->header();
  http::response<http::empty_body> res{uh.result(), ctx_.version};
  for (const auto& f : uh)
    if (!isHopByHop(f.name())) res.insert(f.name_string(), f.value());
  res.set("x-request-id", ctx_.id);
  res.set("x-qmesh-route", ctx_.route);
  if (timeouts_.sse) {
    res.set(http::field::cache_control, "no-cache");
    res.set("X-Accel-Buffering", "no");  // nginx or similar in front must not buffer it
  }
  if (chunked_) res.chunked(true);
  else if (lengthKnown_) res.set(http::field::content_length, uh[http::field::content_length]);
  res.keep_alive(keep);
  ctx_.status = uh.result_int();
  http::response_serializer<http::empty_body> sr{res};
  co_return co_await client_.writeHeader(sr);
}

net::awaitable<error_code> ResponseRelay::write(std::string_view bytes) {
  times_.writing = true;
  times_.writeStart = now();
  const error_code ec = co_await client_.writeBody(bytes.data(), bytes.size(), chunked_);
  times_.writing = false;
  times_.lastWrite = now();
  if (!ec) st_.metrics.bytesToClient(bytes.size());
  co_return ec;
}

net::awaitable<bool> ResponseRelay::run() {
  const bool sse = up_->isEventStream();
  lengthKnown_ = !up_->header()[http::field::content_length].empty();
  chunked_ = !lengthKnown_ && ctx_.version >= 11;
  const bool keep = ctx_.keepAlive && !client_.services().sessions.draining() && (chunked_ || lengthKnown_);
  timeouts_ = relayTimeouts(st_.config, sse, cont_ != nullptr);
  if (co_await writeHeader(keep)) co_return false;
  const bool ok = co_await relayBody();
  ticker_.cancel();
  if (sse) st_.metrics.sseEvents(ctx_.model, cont_ ? cont_->events() : scanner_.events());
  if (client_.clientGone()) ctx_.status = 499;
  co_return ok && keep;
}

// The body to its end; true when it ended complete.
net::awaitable<bool> ResponseRelay::relayBody() {
  // Uninitialized: zeroing 64 KB per request showed up in the profile at 512 streams.
  std::unique_ptr<char[]> buf(new char[kRelayBuffer]);
  bool first = true;
  times_.lastWrite = times_.lastUpstream = now();
  startTicker();
  for (;;) {
    auto [rec, n] = co_await up_->readSome(buf.get(), kRelayBuffer);
    if (n > 0 && !client_.clientGone()) {
      std::string_view out{buf.get(), n};
      if (cont_) {
        times_.lastUpstream = now();
        out = cont_->pass(out);  // whole events only
        if (cont_->overflow()) rec = make_error_code(net::error::message_size);
      } else if (timeouts_.sse) {
        scanner_.feed(out);
      }
      if (!out.empty()) {
        if (co_await write(out)) co_return false;
        ctx_.tokens = static_cast<int64_t>(cont_ ? cont_->events() : scanner_.events());  // the console's live requests
        if (first) st_.metrics.firstByte(ctx_.model, secondsBetween(ctx_.start, now()));
        first = false;
      }
    }
    if (client_.clientGone()) co_return false;
    if (rec == net::error::operation_aborted && trigger_.empty()) {
      if (keepaliveDue_) {
        keepaliveDue_ = false;
        // Only between events: a comment inside an event would corrupt it.
        const bool atBoundary = cont_ || scanner_.atBoundary();
        if (atBoundary && co_await write(sseComment("keepalive"))) co_return false;
      }
      continue;
    }
    if (cont_) {
      std::string why = trigger_;
      if (why.empty() && rec) why = "reset";
      if (why.empty() && up_->done() && !cont_->sawDone()) why = "eof";
      if (!why.empty() && !cont_->sawDone()) {
        spdlog::warn("req={} worker {} failed mid-stream ({}{}{})", ctx_.id, cont_->workerId(), why,
                     rec && rec != net::error::operation_aborted ? ": " : "",
                     rec && rec != net::error::operation_aborted ? rec.message() : "");
        times_.failingOver = true;
        const Failover f = co_await cont_->failOver(why);
        times_.failingOver = false;
        trigger_.clear();
        times_.lastUpstream = now();
        if (f.then == Failover::Then::Resumed) continue;
        if (f.then == Failover::Then::Finish) co_return co_await finish();
        if (!f.errorEvent.empty()) (void)co_await write(f.errorEvent);
        co_return false;
      }
      if (up_->done() || rec) co_return co_await finish();
      continue;
    }
    if (rec) {
      co_await endBroken(rec);
      co_return false;
    }
    if (up_->done()) co_return co_await finish();
  }
}

net::awaitable<bool> ResponseRelay::finish() {
  if (cont_) {
    const std::string tail = cont_->tail();
    if (!tail.empty() && co_await write(tail)) co_return false;
  }
  if (chunked_) co_return !co_await client_.writeLastChunk();
  co_return true;
}

// The worker died mid-response: the client's body ends without its terminator so the
// client sees a broken response, not a short but "complete" one.
net::awaitable<void> ResponseRelay::endBroken(const error_code& rec) {
  st_.metrics.upstreamError(ctx_.model, "reset_mid_response");
  spdlog::warn("req={} worker connection broke mid-response: {}", ctx_.id, rec.message());
  // Before that, an event stream gets an OpenAI error event, as OpenAI and llama-server
  // send one, so an SDK raises an API error rather than a network one. Only between
  // events (never inside one), only in a body with no length, and only by the router the
  // client talks to: a peer serving a hop leaves it to the entry router, which sees the
  // same break, so the client gets one event, not two.
  if (timeouts_.sse && !lengthKnown_ && scanner_.atBoundary() && ctx_.fromPeer.empty() && !client_.clientGone()) {
    const std::string e = "data: " +
                          openaiError("the worker's connection broke mid-response (" + rec.message() + ")",
                                      errorTypeFor(502), "upstream_error") +
                          "\n\n";
    (void)co_await write(e);
  }
}

}  // namespace qmesh::router
