#include "router/console/live_requests.h"

#include "router/proxy/client_link.h"
#include "router/router_services.h"

namespace qmesh::router {

using nlohmann::json;

namespace {

double msSince(TimePoint start, TimePoint now) { return std::chrono::duration<double, std::milli>(now - start).count(); }

json summary(const RequestCtx& ctx, TimePoint now) {
  return {{"request_id", ctx.id},
          {"model", ctx.model},
          {"path", ctx.path},
          {"route", ctx.route},
          {"from", ctx.fromPeer},
          {"elapsed_ms", static_cast<int64_t>(msSince(ctx.start, now))},
          {"tokens", ctx.tokens}};
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
  c.events.publish("request_started", summary(ctx_, SteadyClock::now()));
}

LiveRequestGuard::~LiveRequestGuard() {
  ConsoleState& c = link_.services().context.console;
  c.live.remove(it_);
  json s = summary(ctx_, SteadyClock::now());
  s.erase("elapsed_ms");
  s["duration_ms"] = static_cast<int64_t>(msSince(ctx_.start, SteadyClock::now()));
  // Before the session's finishRequest: a client that left is 499 there too.
  const int status = link_.clientGone() && ctx_.status < 400 ? 499 : ctx_.status;
  s["status"] = status;
  s["cancelled"] = ctx_.cancelled;
  if (status >= 400 && status != 499) c.errors.add(s);
  if (status < 400 && servedHere(ctx_.route, link_.services().context.config.node_name))
    c.localRates.record(ctx_.model, ctx_.tokens, std::chrono::milliseconds(s["duration_ms"].get<int64_t>()),
                        SteadyClock::now());
  c.events.publish("request_finished", std::move(s));
}

}  // namespace qmesh::router
