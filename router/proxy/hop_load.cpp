#include "router/proxy/hop_load.h"

#include <nlohmann/json.hpp>

#include "common/logging.h"
#include "common/names.h"
#include "router/router_services.h"

namespace qmesh::router {

namespace {

// stopWatching() before the watch's captures go (ClientLink's contract), on every path out.
struct StopWatchingOnExit {
  ClientLink& link;
  ~StopWatchingOnExit() { link.stopWatching(); }
};

}  // namespace

net::awaitable<HopLoadAnswer> loadForPeer(ClientLink& link, http::verb method, RequestCtx& ctx) {
  RouterContext& st = link.services().context;
  if (method != http::verb::post) co_return HopLoadAnswer{405, "method_not_allowed", "a load request is a POST", 0};
  const std::string model = ctx.path.substr(kLoadPathPrefix.size());
  if (!isValidName(model)) co_return HopLoadAnswer{400, "invalid_model", "the load request names no valid model", 0};
  ctx.model = model;
  if (!st.directoryLoaded)
    co_return HopLoadAnswer{503, "no_ready_worker", "the router has not heard from its supervisor yet; retry shortly", 1};
  bool own = false;
  for (const auto& w : st.directory.workersOf(model)) own = own || !w->info.remote;
  if (!own)
    co_return HopLoadAnswer{404, "model_not_found", "node " + st.config.node_name + " has no worker of its own for model '" + model + "'", 0};
  spdlog::info("req={} node {} asks this node to load model {}", ctx.id, ctx.fromPeer, model);
  const uint64_t ticket = st.admission->newTicket();
  const StopWatchingOnExit guard{link};
  link.watchClient([admission = st.admission, ticket] { admission->cancel(ticket); });
  RequestTraits traits;
  traits.localOnly = true;  // this node's own workers: the point is to load it here
  AdmissionResult ar = co_await st.admission->acquire(model, ticket, traits);
  if (link.clientGone()) co_return HopLoadAnswer{499, "client_closed", "the asking node hung up", 0};
  if (!ar.lease) {
    const Rejection& r = *ar.rejection;
    co_return HopLoadAnswer{r.status, r.code, r.message, r.retry_after_s};
  }
  // Ready: the slot goes back at once (the asking node's requests take their own).
  const nlohmann::json body{{"model", model}, {"node", st.config.node_name}, {"state", "ready"}};
  co_return HopLoadAnswer{200, "", body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), 0};
}

}  // namespace qmesh::router
