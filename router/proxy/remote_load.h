// The asking half of a load across the mesh (issue 10, part 3): MeshLoads' Actions on a real
// router. `POST /qmesh/load/NAME` to the chosen node over a fresh encrypted data-plane channel
// (the handshake proves that node is the member the gossip named, and proves this node to
// it), then the answer back to MeshLoads on the loop. The node answers once the model is
// ready there, so the request lasts as long as the load: it is registered with the channel
// pool (a dead node's channels are closed at once) and bounded by router.queue_timeout plus
// the connect and header timeouts. Owned by the Router; stop() before the services go.
#pragma once

#include <memory>
#include <string>

#include "router/net.h"
#include "router/routing/mesh_loads.h"

namespace qmesh::router {

struct RouterServices;

class RemoteLoadRequests final : public MeshLoads::Actions {
 public:
  RemoteLoadRequests(net::io_context& io, std::shared_ptr<RouterServices> services);
  ~RemoteLoadRequests() override;

  void start(MeshLoads& loads) { loads_ = &loads; }
  void stop() { loads_ = nullptr; }

  void askLoad(const WorkerPtr& worker, const std::string& model) override;

 private:
  net::awaitable<void> ask(WorkerInfo target, std::string model);

  net::io_context& io_;
  std::shared_ptr<RouterServices> services_;
  MeshLoads* loads_ = nullptr;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // asks that answer after we are gone
};

}  // namespace qmesh::router
