#include "router/proxy/upstream_connector.h"

#include "router/proxy/local_upstream.h"
#include "router/proxy/mesh_upstream.h"
#include "router/router_services.h"

namespace qmesh::router {

std::unique_ptr<UpstreamConnector> makeUpstreamConnector(Worker& w, RouterServices& services, net::any_io_executor ex) {
  if (w.info.remote) return std::make_unique<MeshUpstream>(w, services, ex);
  return std::make_unique<LocalUpstream>(w, services, ex);
}

}  // namespace qmesh::router
