// What OnDemandModels (routing/on_demand.h) asks of the supervisor, over its control API:
// POST /children/NAME/load and /unload with the control token, each answered back on the
// loop. Also drives OnDemandModels' idle clock with a timer. Owned by the Router; stop()
// before the io_context is left to finish (the timer would keep it running).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "common/host_port.h"
#include "router/net.h"
#include "router/routing/on_demand.h"

namespace qmesh::router {

class SupervisorModelActions final : public OnDemandModels::Actions {
 public:
  SupervisorModelActions(net::io_context& io, HostPort control, std::filesystem::path tokenFile);
  ~SupervisorModelActions() override;

  // Starts the idle-clock timer; answers go to `models` from now on.
  void start(OnDemandModels& models);
  void stop();

  void load(const std::string& model) override;
  void unload(const std::string& model) override;

 private:
  net::awaitable<void> call(std::string model, bool load);
  void armTick();

  net::io_context& io_;
  HostPort control_;
  std::filesystem::path tokenFile_;
  OnDemandModels* models_ = nullptr;
  net::steady_timer tick_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // calls that answer after we are gone
};

}  // namespace qmesh::router
