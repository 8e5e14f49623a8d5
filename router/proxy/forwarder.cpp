#include "router/proxy/forwarder.h"

#include <spdlog/spdlog.h>

#include "router/mesh/mesh_node.h"
#include "router/proxy/sse.h"

namespace qmesh::router {

namespace {

// Hop-by-hop and framing headers: ours, not the worker's.
bool hopByHop(http::field f) {
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

// Big enough that a multi-megabyte non-streamed body moves in few syscalls; SSE reads
// return whatever arrived, so this never delays an event.
constexpr std::size_t kRelayBuffer = 64 * 1024;

}  // namespace

Forwarder::Forwarder(HttpSession& session, const http::request<http::string_body>& req, RequestCtx& ctx,
                     bool stream)
    : session_(session), st_(session.state()), req_(req), ctx_(ctx), stream_(stream),
      ticker_(session.stream().get_executor()) {}

Forwarder::~Forwarder() {
  session_.stopWatching();
  ticker_.cancel();
}

void Forwarder::onClientGone() {
  if (up_) up_->close();
  st_.admission->cancel(ticket_);
  ticker_.cancel();
  st_.metrics.clientGone(ctx_.model);
  spdlog::info("req={} client hung up after {:.1f} ms; upstream closed", ctx_.id, secondsSince(ctx_.start) * 1000);
}

net::awaitable<bool> Forwarder::run() {
  session_.watchClient([this] { onClientGone(); });
  ticket_ = st_.admission->newTicket();
  const RequestTraits traits{ctx_.affinity, !ctx_.fromPeer.empty()};
  AdmissionResult ar = co_await st_.admission->acquire(ctx_.model, ticket_, traits);
  if (clientGone()) {
    ctx_.status = 499;  // nginx's "client closed request": nobody was left to answer
    co_return false;
  }
  if (!ar.lease) {
    session_.stopWatching();
    const Rejection& r = *ar.rejection;
    co_return co_await session_.writeError(ctx_, r.status, r.code, r.message, r.retry_after_s);
  }
  co_return co_await attempts(std::move(ar.lease));
}

http::request<http::span_body<const char>> Forwarder::upstreamRequest(const Worker& w) const {
  http::request<http::span_body<const char>> r{req_.method(), req_.target(), 11};
  if (w.info.remote) {
    r.set(http::field::host, w.info.node);
    r.set("x-qmesh-hop", st_.config.node_name);  // for the other node's logs
  } else {
    r.set(http::field::host, w.info.host + ":" + std::to_string(w.info.port));
  }
  const auto ct = req_[http::field::content_type];
  r.set(http::field::content_type, ct.empty() ? beast::string_view("application/json") : ct);
  if (const auto accept = req_[http::field::accept]; !accept.empty()) r.set(http::field::accept, accept);
  r.set("x-request-id", ctx_.id);
  r.body() = beast::span<const char>(req_.body().data(), req_.body().size());
  // Local workers get a connection per request (llama-server frees a slot when its client
  // leaves); a mesh channel is kept for the next request to that node (ChannelPool).
  r.keep_alive(w.info.remote);
  r.prepare_payload();
  return r;
}

net::awaitable<bool> Forwarder::attempts(Lease lease) {
  std::string retryNote;
  bool freshChannel = false;  // the pooled channel just failed: connect a new one
  for (int attempt = 0;; ++attempt) {
    Worker& w = *lease.worker();
    const bool remote = w.info.remote;
    // A remote hop names this node and the next; the next router's own route is appended
    // once its answer arrives, so x-qmesh-route shows every hop.
    ctx_.route = remote ? st_.config.node_name + " (" + lease.reason() + retryNote + ") > " + w.info.node
                        : st_.config.node_name + "/" + w.id + " (" + lease.reason() + retryNote + ")";
    up_.emplace(session_.stream().get_executor());
    error_code ec;
    bool reused = false;
    if (remote && st_.mesh) {
      if (auto pooled = freshChannel ? nullptr : st_.meshChannels.take(w.info.peer, SteadyClock::now())) {
        up_->adoptMesh(std::move(pooled));
        reused = true;
      } else {
        ec = co_await up_->connectMesh(w.info.dataAddress, w.info.peer, st_.mesh->identity(),
                                       st_.config.connect_timeout, st_.config.header_timeout);
      }
    } else if (remote)
      ec = net::error::not_connected;
    else
      ec = co_await up_->connect(w.info.host, w.info.port, st_.config.connect_timeout);
    const bool connected = !ec;
    if (connected && remote) up_->trackMesh(st_.meshChannels, w.info.peer);
    if (connected) {
      auto ureq = upstreamRequest(w);
      ec = co_await up_->send(ureq);
      if (!ec) ec = co_await up_->readHeader();
    }
    if (clientGone()) {
      ctx_.status = 499;
      co_return false;
    }
    if (ec && reused && ec != net::error::timed_out) {
      // The peer closed the idle channel as we reused it (its keep-alive timeout, a
      // restart): not the worker's failure. Same worker, new channel, same attempt. Not so
      // for timed_out: the peer went silent (dataplane/tcp_liveness.h), and a fresh
      // connect would only wait out connect_timeout on it too.
      spdlog::debug("req={} pooled channel to {} was closed ({}): reconnecting", ctx_.id, w.info.node, ec.message());
      freshChannel = true;
      --attempt;
      continue;
    }
    freshChannel = false;
    const int status = ec ? 0 : up_->header().result_int();
    if (!ec && remote) {
      const auto next = up_->header()["x-qmesh-route"];
      if (!next.empty()) ctx_.route = st_.config.node_name + " (" + lease.reason() + retryNote + ") > " + std::string(next);
    }
    if (!ec && status < 500) break;
    if (!ec && attempt > 0) break;  // a second 5xx goes to the client as it is
    // Nothing reached the client yet, so trying another worker is safe.
    const std::string kind = (remote ? "mesh_" : "") + std::string(!connected ? "connect" : ec ? "reset" : "http_5xx");
    ++w.failures;
    st_.metrics.upstreamError(ctx_.model, kind);
    // A refused connect is local evidence of death, acted on at once; gossip confirms it.
    if (!connected && remote)
      st_.directory.markPeerUnreachable(peerKey(w.info.peer), SteadyClock::now(), st_.config.unreachable_hold);
    else if (!connected)
      st_.directory.markUnreachable(w, SteadyClock::now(), st_.config.unreachable_hold);
    spdlog::warn("req={} worker {} failed before the first byte ({}{}{})", ctx_.id, w.id, kind,
                 ec ? ": " + ec.message() : "", status ? " " + std::to_string(status) : "");
    Lease next = attempt == 0 ? st_.admission->tryAcquire(ctx_.model, &w, {ctx_.affinity, !ctx_.fromPeer.empty()})
                              : Lease{};
    if (next) {
      retryNote = "; retry after " + kind + " on " + w.id;
      st_.metrics.retried(ctx_.model);
      up_.reset();
      lease = std::move(next);
      continue;
    }
    if (!ec) break;  // the 5xx itself is the best answer left
    up_.reset();
    session_.stopWatching();
    if (!connected)
      co_return co_await session_.writeError(ctx_, 503, "no_ready_worker",
                                             "worker " + w.id + " refused the connection (" + ec.message() +
                                                 ") and no other ready worker serves '" + ctx_.model + "'",
                                             2);
    co_return co_await session_.writeError(ctx_, 502, "upstream_error",
                                           "worker " + w.id + " closed the connection before answering (" +
                                               ec.message() + ")");
  }
  ++lease.worker()->served;
  const bool keep = co_await relay(*up_);
  if (!st_.draining && !clientGone()) st_.meshChannels.put(up_->releaseMesh(), SteadyClock::now());
  up_.reset();
  co_return keep;
}

void Forwarder::startTicker() {
  const TimePoint now = SteadyClock::now();
  TimePoint at = now + (sse_ ? std::min(st_.config.keepalive_interval, st_.config.write_timeout) : st_.config.write_timeout);
  // Idle streams get their comment exactly keepalive_interval after the last write.
  if (sse_ && lastWrite_ + st_.config.keepalive_interval > now) at = std::min(at, lastWrite_ + st_.config.keepalive_interval);
  ticker_.expires_at(at);
  ticker_.async_wait([this, alive = std::weak_ptr<int>(alive_)](error_code ec) {
    if (!ec && !alive.expired()) onTick();
  });
}

void Forwarder::onTick() {
  const TimePoint now = SteadyClock::now();
  if (writing_ && now - writeStart_ >= st_.config.write_timeout) {
    spdlog::warn("req={} client read nothing for {} ms: dropping it", ctx_.id, st_.config.write_timeout.count());
    session_.forceClose();  // runs onClientGone: the upstream goes too
    return;
  }
  if (sse_ && !writing_ && now - lastWrite_ >= st_.config.keepalive_interval) {
    keepaliveDue_ = true;
    if (up_) up_->cancelRead();  // wakes the relay, which writes the comment itself
  }
  startTicker();
}

net::awaitable<error_code> Forwarder::writeBody(const char* data, std::size_t n, bool chunked) {
  error_code ec;
  // Straight to the socket, past tcp_stream's per-operation timeout machinery: the ticker
  // watches for stalled writes instead (a timer per event cost more than the relay).
  session_.stream().expires_never();
  auto& s = session_.stream().socket();
  writing_ = true;
  writeStart_ = SteadyClock::now();
  // make_chunk never emits an empty chunk (which would end the body early); the Beast
  // serializer's buffer_body would, unless data == nullptr for size 0.
  if (chunked)
    co_await net::async_write(s, http::make_chunk(net::buffer(data, n)), awaitEc(ec));
  else
    co_await net::async_write(s, net::buffer(data, n), awaitEc(ec));
  writing_ = false;
  lastWrite_ = SteadyClock::now();
  if (!ec) st_.metrics.bytesToClient(n);
  co_return ec;
}

net::awaitable<bool> Forwarder::relay(UpstreamClient& up) {
  const auto& uh = up.header();
  const bool sse = up.isEventStream();
  sse_ = sse;
  http::response<http::empty_body> res{uh.result(), ctx_.version};
  for (const auto& f : uh)
    if (!hopByHop(f.name())) res.insert(f.name_string(), f.value());
  res.set("x-request-id", ctx_.id);
  res.set("x-qmesh-route", ctx_.route);
  if (sse) {
    res.set(http::field::cache_control, "no-cache");
    res.set("X-Accel-Buffering", "no");  // nginx or similar in front must not buffer it
  }
  const auto length = uh[http::field::content_length];
  const bool chunked = length.empty() && ctx_.version >= 11;
  bool keep = ctx_.keepAlive && !st_.draining && (chunked || !length.empty());
  if (chunked) res.chunked(true);
  else if (!length.empty()) res.set(http::field::content_length, length);
  res.keep_alive(keep);
  ctx_.status = uh.result_int();
  http::response_serializer<http::empty_body> sr{res};
  error_code ec;
  session_.stream().expires_after(st_.config.write_timeout);
  co_await http::async_write_header(session_.stream(), sr, awaitEc(ec));
  if (ec) co_return false;

  // Uninitialized: zeroing 64 KB per request showed up in the profile at 512 streams.
  std::unique_ptr<char[]> buf(new char[kRelayBuffer]);
  SseScanner scanner;
  bool first = true, ok = true;
  lastWrite_ = SteadyClock::now();
  startTicker();
  for (;;) {
    auto [rec, n] = co_await up.readSome(buf.get(), kRelayBuffer);
    if (n > 0 && !clientGone()) {
      if (sse) scanner.feed({buf.get(), n});
      if (co_await writeBody(buf.get(), n, chunked)) { ok = false; break; }
      if (first) st_.metrics.firstByte(ctx_.model, secondsSince(ctx_.start));
      first = false;
    }
    if (clientGone()) { ok = false; break; }
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
      if (sse && length.empty() && scanner.atBoundary() && ctx_.fromPeer.empty() && !clientGone()) {
        const std::string e = "data: " +
                              openaiError("the worker's connection broke mid-response (" + rec.message() + ")",
                                          errorTypeFor(502), "upstream_error") +
                              "\n\n";
        (void)co_await writeBody(e.data(), e.size(), chunked);
      }
      ok = false;
      break;
    }
    if (up.done()) {
      if (chunked) {
        const auto last = http::make_chunk_last();
        co_await net::async_write(session_.stream().socket(), last, awaitEc(ec));
        ok = !ec;
      }
      break;
    }
  }
  ticker_.cancel();
  if (sse) st_.metrics.sseEvents(ctx_.model, scanner.events());
  if (clientGone()) ctx_.status = 499;
  co_return ok && keep;
}

}  // namespace qmesh::router
