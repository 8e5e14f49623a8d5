#include "router/proxy/client_link.h"

#include "common/logging.h"

#include <random>

#include "router/router_context.h"

namespace qmesh::router {

std::string newRequestId() {
  static std::mt19937_64 gen{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(gen()));
  return buf;
}

void finishRequest(RouterContext& context, const RequestCtx& ctx) {
  const double total = std::chrono::duration<double>(context.clock.now() - ctx.start).count();
  context.metrics.requestFinished(ctx.model, ctx.status, total);
  // Pollers (the supervisor's /health every second, dashboards, tests) belong at debug.
  const bool poll = ctx.method == "GET" && ctx.model.empty() && ctx.status == 200;
  const auto level = poll ? spdlog::level::debug : spdlog::level::info;
  spdlog::log(level, "req={} {} {} model={} route=\"{}\" status={} total_ms={:.1f}{}", ctx.id, ctx.method, ctx.path,
              ctx.model.empty() ? "-" : ctx.model, ctx.route, ctx.status, total * 1000,
              ctx.fromPeer.empty() ? "" : " from=" + ctx.fromPeer);
}

}  // namespace qmesh::router
