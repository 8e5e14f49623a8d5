// What a member's gossip means for routing: the workers of another node as this node's
// directory lists them. The routing half of MeshNode::onMember, kept pure so its rules are
// tested as a function (tests/mesh/remote_workers_test.cpp).
#pragma once

#include <vector>

#include "router/membership/messages.h"
#include "router/mesh/node_meta.h"
#include "router/routing/worker_directory.h"

namespace qmesh::router {

// The workers `meta` describes for member `m` (alive or suspect; dead and left members have
// none). A suspect keeps its models known, so clients get 503 and retry instead of 404, but
// none of its workers is routable until it refutes: each is listed in state Unknown.
std::vector<WorkerInfo> remoteWorkersOf(const membership::Member& m, const NodeMeta& meta);

}  // namespace qmesh::router
