#include "router/proxy/response_relay.h"

#include "common/logging.h"

#include "router/proxy/routes.h"
#include "router/proxy/sse.h"
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

double secondsSince(TimePoint t) { return std::chrono::duration<double>(SteadyClock::now() - t).count(); }

ResponseRelay::ResponseRelay(ClientLink& client, RequestCtx& ctx, UpstreamConnector& up)
    : client_(client), st_(client.services().context), ctx_(ctx), up_(up), ticker_(client.executor()) {}

ResponseRelay::~ResponseRelay() { ticker_.cancel(); }

void ResponseRelay::startTicker() {
  const TimePoint now = SteadyClock::now();
  TimePoint at = now + (sse_ ? std::min(st_.config.keepalive_interval, st_.config.write_timeout) : st_.config.write_timeout);
  // Idle streams get their comment exactly keepalive_interval after the last write.
  if (sse_ && lastWrite_ + st_.config.keepalive_interval > now) at = std::min(at, lastWrite_ + st_.config.keepalive_interval);
  ticker_.expires_at(at);
  ticker_.async_wait([this, alive = std::weak_ptr<int>(alive_)](error_code ec) {
    if (!ec && !alive.expired()) onTick();
  });
}

void ResponseRelay::onTick() {
  const TimePoint now = SteadyClock::now();
  if (writing_ && now - writeStart_ >= st_.config.write_timeout) {
    spdlog::warn("req={} client read nothing for {} ms: dropping it", ctx_.id, st_.config.write_timeout.count());
    client_.forceClose();  // runs the Forwarder's onClientGone: the upstream goes too
    return;
  }
  if (sse_ && !writing_ && now - lastWrite_ >= st_.config.keepalive_interval) {
    keepaliveDue_ = true;
    up_.cancelRead();  // wakes the relay, which writes the comment itself
  }
  startTicker();
}

net::awaitable<error_code> ResponseRelay::writeBody(const char* data, std::size_t n, bool chunked) {
  writing_ = true;
  writeStart_ = SteadyClock::now();
  const error_code ec = co_await client_.writeBody(data, n, chunked);
  writing_ = false;
  lastWrite_ = SteadyClock::now();
  if (!ec) st_.metrics.bytesToClient(n);
  co_return ec;
}

net::awaitable<bool> ResponseRelay::run() {
  const auto& uh = up_.header();
  const bool sse = up_.isEventStream();
  sse_ = sse;
  http::response<http::empty_body> res{uh.result(), ctx_.version};
  for (const auto& f : uh)
    if (!isHopByHop(f.name())) res.insert(f.name_string(), f.value());
  res.set("x-request-id", ctx_.id);
  res.set("x-qmesh-route", ctx_.route);
  if (sse) {
    res.set(http::field::cache_control, "no-cache");
    res.set("X-Accel-Buffering", "no");  // nginx or similar in front must not buffer it
  }
  const auto length = uh[http::field::content_length];
  const bool chunked = length.empty() && ctx_.version >= 11;
  bool keep = ctx_.keepAlive && !client_.services().sessions.draining() && (chunked || !length.empty());
  if (chunked) res.chunked(true);
  else if (!length.empty()) res.set(http::field::content_length, length);
  res.keep_alive(keep);
  ctx_.status = uh.result_int();
  http::response_serializer<http::empty_body> sr{res};
  if (co_await client_.writeHeader(sr)) co_return false;

  // Uninitialized: zeroing 64 KB per request showed up in the profile at 512 streams.
  std::unique_ptr<char[]> buf(new char[kRelayBuffer]);
  SseScanner scanner;
  bool first = true, ok = true;
  lastWrite_ = SteadyClock::now();
  startTicker();
  for (;;) {
    auto [rec, n] = co_await up_.readSome(buf.get(), kRelayBuffer);
    if (n > 0 && !client_.clientGone()) {
      if (sse) {
        scanner.feed({buf.get(), n});
        ctx_.tokens = scanner.events();
      }
      if (co_await writeBody(buf.get(), n, chunked)) { ok = false; break; }
      if (first) st_.metrics.firstByte(ctx_.model, secondsSince(ctx_.start));
      first = false;
    }
    if (client_.clientGone()) { ok = false; break; }
    if (rec == net::error::operation_aborted && keepaliveDue_) {
      keepaliveDue_ = false;
      // Only between events: a comment inside an event would corrupt it.
      if (scanner.atBoundary()) {
        const std::string c = sseComment("keepalive");
        if (co_await writeBody(c.data(), c.size(), chunked)) { ok = false; break; }
      }
      continue;
    }
    if (rec) {
      // The worker died mid-response: end the client's body without its terminator so
      // the client sees a broken response, not a short but "complete" one.
      st_.metrics.upstreamError(ctx_.model, "reset_mid_response");
      spdlog::warn("req={} worker connection broke mid-response: {}", ctx_.id, rec.message());
      // Before that, an event stream gets an OpenAI error event, as OpenAI and llama-server
      // send one, so an SDK raises an API error rather than a network one. Only between
      // events (never inside one), only in a body with no length, and only by the router the
      // client talks to: a peer serving a hop leaves it to the entry router, which sees the
      // same break, so the client gets one event, not two.
      if (sse && length.empty() && scanner.atBoundary() && ctx_.fromPeer.empty() && !client_.clientGone()) {
        const std::string e = "data: " +
                              openaiError("the worker's connection broke mid-response (" + rec.message() + ")",
                                          errorTypeFor(502), "upstream_error") +
                              "\n\n";
        (void)co_await writeBody(e.data(), e.size(), chunked);
      }
      ok = false;
      break;
    }
    if (up_.done()) {
      if (chunked) ok = !co_await client_.writeLastChunk();
      break;
    }
  }
  ticker_.cancel();
  if (sse) st_.metrics.sseEvents(ctx_.model, scanner.events());
  if (client_.clientGone()) ctx_.status = 499;
  co_return ok && keep;
}

}  // namespace qmesh::router
