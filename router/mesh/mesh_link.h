// What the proxy needs from this router's mesh side, and nothing more: the identity its
// channels to other routers are opened under, and the mesh's status page and metrics.
// MeshNode implements it; proxy code includes this header, never mesh_node.h.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "router/membership/identity.h"

namespace qmesh::router {

class MeshLink {
 public:
  virtual ~MeshLink() = default;
  // The handshake of every data-plane channel this node opens proves this identity.
  virtual const membership::Identity& identity() const = 0;
  // /api/mesh; `hopSessions`: channels from other routers this node is serving now.
  virtual nlohmann::json statusJson(int64_t hopSessions) const = 0;
  // Appends the mesh's Prometheus metrics to `out`.
  virtual void renderMetrics(std::string& out) const = 0;
};

// Hex of a node id: the key of its remote workers in the directory.
std::string peerKey(const membership::NodeId& id);

}  // namespace qmesh::router
