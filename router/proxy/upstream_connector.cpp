#include "router/proxy/upstream_connector.h"

#include "router/proxy/local_upstream.h"
#include "router/proxy/mesh_upstream.h"

namespace qmesh::router {

std::unique_ptr<UpstreamConnector> makeUpstreamConnector(Worker& w, RouterState& state, net::any_io_executor ex) {
  if (w.info.remote) return std::make_unique<MeshUpstream>(w, state, ex);
  return std::make_unique<LocalUpstream>(w, state, ex);
}

}  // namespace qmesh::router
