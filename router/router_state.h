// What every connection of one router shares: config, the worker directory, admission,
// metrics and the live sessions (for a graceful stop). Owned by Router; sessions hold a
// shared_ptr so it outlives the last of them. Only the io_context thread touches it.
#pragma once

#include <functional>
#include <list>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "router/console/console_state.h"
#include "router/dataplane/channel_pool.h"
#include "router/metrics.h"
#include "router/net.h"
#include "router/proxy/origin_guard.h"
#include "router/router_config.h"
#include "router/routing/admission.h"
#include "router/routing/selection_policy.h"
#include "router/routing/worker_directory.h"

namespace qmesh::router {

class ClientLink;
class HttpSession;
class MeshNode;

struct RouterState {
  explicit RouterState(RouterConfig cfg)
      : config(std::move(cfg)),
        admission(std::make_shared<Admission>(directory, random, static_cast<std::size_t>(config.queue_depth),
                                              config.queue_timeout)),
        // Idle well under the peer's keep-alive timeout (its header_timeout; ours is the best
        // guess), so a peer seldom closes a channel as we reuse it.
        meshChannels(dataplane::ChannelPoolOptions{
            8, std::min<std::chrono::milliseconds>(std::chrono::seconds(4), config.header_timeout / 2)}) {}

  RouterConfig config;
  WorkerDirectory directory;
  StdRandom random;
  std::shared_ptr<Admission> admission;
  RouterMetrics metrics;
  TimePoint started = SteadyClock::now();
  int64_t startedUnix = 0;
  bool supervisorReachable = false;
  bool directoryLoaded = false;  // false until the first supervisor status (static: at once)
  std::string supervisorError;
  // What a Host or Origin header may name when there are no API keys; the port is the one
  // bound (router.listen may say 0).
  OriginPolicy origins;
  // router.max_connections, lowered to what RLIMIT_NOFILE allows (connection_cap.h).
  int64_t maxConnections = 1024;
  int turningAway = 0;  // connections being answered 503 by the listener
  // Sessions with no request in progress (waiting for a request header: a new connection or
  // an idle keep-alive one), the longest-waiting first. At the cap the listener closes the
  // front one to admit a newcomer, as nginx reuses its "reusable" connections: idle sockets
  // (a flood of them, or slowloris) cannot lock clients out; only busy ones earn a 503.
  std::list<HttpSession*> idleSessions;

  // Mesh (null when the node is a mesh of one). Requests from other routers arrive on the
  // authenticated data-plane channel and are served there (HopSession), never forwarded on.
  MeshNode* mesh = nullptr;
  int64_t hopSessions = 0;                      // channels from other routers being served
  dataplane::ChannelPool meshChannels;          // idle channels to other routers, for reuse

  // Graceful stop: no new requests on kept-alive connections; onIdle fires when the last
  // session ends.
  bool draining = false;
  std::set<ClientLink*> sessions;  // HttpSession and HopSession
  std::function<void()> onAllSessionsClosed;

  ConsoleState console;  // /console and /api/events (router/console/)
};

}  // namespace qmesh::router
