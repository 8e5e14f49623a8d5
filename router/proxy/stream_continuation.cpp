#include "router/proxy/stream_continuation.h"

#include <algorithm>
#include "common/logging.h"

#include "router/proxy/bounded_json.h"
#include "router/proxy/response_relay.h"
#include "router/proxy/routes.h"
#include "router/proxy/sse.h"
#include "router/router_services.h"

namespace qmesh::router {

namespace {

// How often a stream looks at its worker's state in the directory: the supervisor polls
// health once a second, so looking more often finds nothing sooner.
constexpr std::chrono::milliseconds kWorkerCheck{1000};

}  // namespace

StreamContinuation::StreamContinuation(ClientLink& client, RequestCtx& ctx, const http::request<http::string_body>& req,
                                       StreamKind kind, Lease lease, std::unique_ptr<UpstreamConnector>& up)
    : client_(client),
      st_(client.services().context),
      ctx_(ctx),
      req_(req),
      kind_(kind),
      lease_(std::move(lease)),
      up_(up),
      editor_(kind),
      ticker_(client.executor()) {}

StreamContinuation::~StreamContinuation() { ticker_.cancel(); }

net::awaitable<bool> StreamContinuation::writeHeader() {
  const auto& uh = up_->header();
  http::response<http::empty_body> res{uh.result(), ctx_.version};
  for (const auto& f : uh)
    if (!isHopByHop(f.name())) res.insert(f.name_string(), f.value());
  res.set("x-request-id", ctx_.id);
  res.set("x-qmesh-route", ctx_.route);
  res.set(http::field::cache_control, "no-cache");
  res.set("X-Accel-Buffering", "no");
  res.chunked(true);
  res.keep_alive(ctx_.keepAlive && !client_.services().sessions.draining());
  ctx_.status = uh.result_int();
  http::response_serializer<http::empty_body> sr{res};
  co_return !co_await client_.writeHeader(sr);
}

net::awaitable<error_code> StreamContinuation::write(std::string_view bytes) {
  writing_ = true;
  writeStart_ = SteadyClock::now();
  const error_code ec = co_await client_.writeBody(bytes.data(), bytes.size(), true);
  writing_ = false;
  lastWrite_ = SteadyClock::now();
  if (!ec) st_.metrics.bytesToClient(bytes.size());
  co_return ec;
}

bool StreamContinuation::workerDown() const {
  const Worker& w = *lease_.worker();
  if (w.info.state != WorkerState::Ready) return true;
  const auto& list = st_.directory.workersOf(ctx_.model);
  return std::none_of(list.begin(), list.end(), [&](const WorkerPtr& p) { return p.get() == &w; });
}

void StreamContinuation::startTicker() {
  const auto& c = st_.config;
  const TimePoint now = SteadyClock::now();
  TimePoint at = std::min({now + kWorkerCheck, lastWrite_ + c.keepalive_interval, lastUpstream_ + c.stall_timeout});
  if (writing_) at = std::min(at, writeStart_ + c.write_timeout);
  ticker_.expires_at(std::max(at, now + std::chrono::milliseconds(1)));
  ticker_.async_wait([this, alive = std::weak_ptr<int>(alive_)](error_code ec) {
    if (!ec && !alive.expired()) onTick();
  });
}

void StreamContinuation::onTick() {
  const auto& c = st_.config;
  const TimePoint now = SteadyClock::now();
  if (writing_ && now - writeStart_ >= c.write_timeout) {
    spdlog::warn("req={} client read nothing for {} ms: dropping it", ctx_.id, c.write_timeout.count());
    client_.forceClose();  // runs the Forwarder's onClientGone: the upstream goes too
    return;
  }
  if (!writing_ && trigger_.empty() && !failingOver_) {
    if (now - lastUpstream_ >= c.stall_timeout) trigger_ = "stall";
    else if (workerDown()) trigger_ = "worker_down";
    if (!trigger_.empty()) {
      up_->cancelRead();  // the relay fails over itself
    } else if (now - lastWrite_ >= c.keepalive_interval) {
      keepaliveDue_ = true;
      up_->cancelRead();
    }
  }
  startTicker();
}

net::awaitable<bool> StreamContinuation::run() {
  if (!co_await writeHeader()) co_return false;
  std::unique_ptr<char[]> buf(new char[kRelayBuffer]);
  bool first = true, ok = false;
  lastWrite_ = lastUpstream_ = SteadyClock::now();
  startTicker();
  for (;;) {
    auto [rec, n] = co_await up_->readSome(buf.get(), kRelayBuffer);
    if (n > 0) {
      lastUpstream_ = SteadyClock::now();
      const std::string_view events = framer_.push({buf.get(), n});
      if (framer_.overflow()) rec = make_error_code(net::error::message_size);
      if (!events.empty() && !client_.clientGone()) {
        error_code wec;
        if (editor_.continuations() == 0) {
          editor_.sentVerbatim(events);
          wec = co_await write(events);
        } else if (const std::string out = editor_.rewrite(events); !out.empty()) {
          wec = co_await write(out);
        }
        if (wec) break;
        ctx_.tokens = static_cast<int64_t>(framer_.events());  // for the console's live requests
        if (first) st_.metrics.firstByte(ctx_.model, secondsSince(ctx_.start));
        first = false;
      }
    }
    if (client_.clientGone()) break;
    if (rec == net::error::operation_aborted && trigger_.empty()) {
      if (keepaliveDue_) {
        keepaliveDue_ = false;
        const std::string c = sseComment("keepalive");  // whole events only went out: a boundary
        if (co_await write(c)) break;
      }
      continue;
    }
    std::string why = trigger_;
    if (why.empty() && rec) why = "reset";
    if (why.empty() && up_->done() && !editor_.sawDone()) why = "eof";
    if (!why.empty() && !editor_.sawDone()) {
      spdlog::warn("req={} worker {} failed mid-stream ({}{}{})", ctx_.id, lease_.worker()->id, why,
                   rec && rec != net::error::operation_aborted ? ": " : "",
                   rec && rec != net::error::operation_aborted ? rec.message() : "");
      failingOver_ = true;
      const After a = co_await failOver(why);
      failingOver_ = false;
      trigger_.clear();
      lastUpstream_ = SteadyClock::now();
      if (a == After::Resumed) continue;
      ok = a == After::Finished;
      break;
    }
    if (up_->done() || rec) {
      ok = co_await finishStream() == After::Finished;
      break;
    }
  }
  ticker_.cancel();
  st_.metrics.sseEvents(ctx_.model, framer_.events());
  if (client_.clientGone()) ctx_.status = 499;
  co_return ok && ctx_.keepAlive && !client_.services().sessions.draining();
}

// The client has every token: only the stream's end is owed.
net::awaitable<StreamContinuation::After> StreamContinuation::finishStream() {
  std::string tail;
  if (!editor_.sawDone()) tail += "data: [DONE]\n\n";
  if (editor_.continuations() > 0) tail += sseComment("qmesh-route " + ctx_.route);
  if (!tail.empty() && co_await write(tail)) co_return After::Broken;
  if (co_await client_.writeLastChunk()) co_return After::Broken;
  co_return After::Finished;
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

net::awaitable<StreamContinuation::After> StreamContinuation::failOver(const std::string& trigger) {
  const WorkerPtr failed = lease_.worker();
  ++failed->failures;
  st_.metrics.upstreamError(ctx_.model, up_->errorKind("reset_mid_response"));
  up_->close();
  trigger_.clear();
  const StreamProgress& p = editor_.progress();
  if (p.error) co_return After::Broken;            // the client's SDK raised already
  if (p.finished) co_return co_await finishStream();  // only [DONE] was missing
  if (auto why = refusal())
    co_return co_await refuse(*why, "the worker's stream broke mid-response (" + trigger +
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
      co_return After::Resumed;
    }
    if (client_.clientGone()) co_return After::Broken;
    exclude = next.worker().get();
  }
  co_return co_await refuse("no_worker", "the worker's stream broke mid-response (" + trigger +
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

net::awaitable<StreamContinuation::After> StreamContinuation::refuse(const std::string& reason,
                                                                     const std::string& message) {
  st_.metrics.streamContinuationRefused(ctx_.model, reason);
  spdlog::warn("req={} stream not continued: {}", ctx_.id, message);
  // A hop's entry router sees the same break and decides: it may have workers we lack.
  if (!ctx_.fromPeer.empty()) co_return After::Broken;
  // As ResponseRelay does for any broken stream: the error event, then a body without its
  // terminator, so neither an SDK nor curl takes the stream for complete.
  const std::string e = "data: " + openaiError(message, errorTypeFor(502), "upstream_error") + "\n\n";
  (void)co_await write(e);
  co_return After::Broken;
}

}  // namespace qmesh::router
