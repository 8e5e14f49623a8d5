#include "router/console/live_requests.h"

#include "router/proxy/client_link.h"
#include "router/router_services.h"

namespace qmesh::router {

using nlohmann::json;

namespace {

int64_t msBetween(TimePoint start, TimePoint now) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - start).count();
}

// What an event or the live list says of a request: a copy, so an event written later (for a
// reader that connects after the request ended) does not read a RequestCtx that is gone.
struct Summary {
  std::string id, model, path, route, from;
  int64_t tokens = 0;

  explicit Summary(const RequestCtx& ctx)
      : id(ctx.id), model(ctx.model), path(ctx.path), route(ctx.route), from(ctx.fromPeer), tokens(ctx.tokens) {}

  json fields() const {
    return {{"request_id", id}, {"model", model}, {"path", path}, {"route", route}, {"from", from}, {"tokens", tokens}};
  }
};

json summary(const RequestCtx& ctx, TimePoint now) {
  json j = Summary(ctx).fields();
  j["elapsed_ms"] = msBetween(ctx.start, now);
  return j;
}

}  // namespace

std::list<LiveRequests::Entry>::iterator LiveRequests::add(RequestCtx& ctx, ClientLink& link) {
  return entries_.insert(entries_.end(), Entry{&ctx, &link});
}

void LiveRequests::remove(std::list<Entry>::iterator it) { entries_.erase(it); }

json LiveRequests::list(TimePoint now) const {
  json out = json::array();
  for (const auto& e : entries_) out.push_back(summary(*e.ctx, now));
  return out;
}

bool LiveRequests::cancel(std::string_view id) {
  for (const auto& e : entries_) {
    if (e.ctx->id != id) continue;
    e.ctx->cancelled = true;
    // As if the client hung up: the Forwarder closes the upstream (and leaves the queue).
    e.link->forceClose();
    return true;
  }
  return false;
}

void RecentErrors::add(json error) {
  errors_.push_back(std::move(error));
  while (errors_.size() > kKept) errors_.pop_front();
}

json RecentErrors::list() const { return json(std::vector<json>(errors_.begin(), errors_.end())); }

LiveRequestGuard::LiveRequestGuard(ClientLink& link, RequestCtx& ctx) : link_(link), ctx_(ctx) {
  ConsoleState& c = link_.services().context.console;
  it_ = c.live.add(ctx_, link_);
  const int64_t elapsed = msBetween(ctx_.start, link_.services().context.clock.now());
  c.events.publishLazy("request_started", [s = Summary(ctx_), elapsed] {
    json j = s.fields();
    j["elapsed_ms"] = elapsed;
    return j;
  });
}

LiveRequestGuard::~LiveRequestGuard() {
  RouterContext& context = link_.services().context;
  ConsoleState& c = context.console;
  c.live.remove(it_);
  const TimePoint now = context.clock.now();
  const int64_t durationMs = msBetween(ctx_.start, now);
  // Before the session's finishRequest: a client that left is 499 there too.
  const int status = link_.clientGone() && ctx_.status < 400 ? 499 : ctx_.status;
  auto finished = [s = Summary(ctx_), durationMs, status, cancelled = ctx_.cancelled] {
    json j = s.fields();
    j["duration_ms"] = durationMs;
    j["status"] = status;
    j["cancelled"] = cancelled;
    return j;
  };
  if (status >= 400 && status != 499) c.errors.add(finished());
  if (status < 400 && servedHere(ctx_.route, context.config.node_name))
    c.localRates.record(ctx_.model, ctx_.tokens, std::chrono::milliseconds(durationMs), now);
  c.events.publishLazy("request_finished", std::move(finished));
}

}  // namespace qmesh::router
