#include "router/model_actions.h"

#include <nlohmann/json.hpp>

#include <fstream>

#include "common/logging.h"
#include "router/console/supervisor_call.h"

namespace qmesh::router {

namespace {

// idle_unload is counted in seconds or minutes: a quarter second is precise enough, and the
// tick only walks the node's few models.
constexpr std::chrono::milliseconds kIdleTick{250};

// The supervisor writes a new token at each start (supervisor/control_token.h): read it for
// each call.
std::string readToken(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string token;
  in >> token;
  return token;
}

}  // namespace

SupervisorModelActions::SupervisorModelActions(net::io_context& io, HostPort control, std::filesystem::path tokenFile)
    : io_(io), control_(std::move(control)), tokenFile_(std::move(tokenFile)), tick_(io) {}

SupervisorModelActions::~SupervisorModelActions() {
  *alive_ = false;
  stop();
}

void SupervisorModelActions::start(OnDemandModels& models) {
  models_ = &models;
  armTick();
}

void SupervisorModelActions::stop() {
  models_ = nullptr;
  tick_.cancel();
}

void SupervisorModelActions::armTick() {
  tick_.expires_after(kIdleTick);
  tick_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](error_code ec) {
    if (ec || alive.expired() || !models_) return;
    models_->tick();
    armTick();
  });
}

void SupervisorModelActions::load(const std::string& model) {
  net::co_spawn(io_, call(model, true), logExceptions("supervisor load call"));
}

void SupervisorModelActions::unload(const std::string& model) {
  net::co_spawn(io_, call(model, false), logExceptions("supervisor unload call"));
}

net::awaitable<void> SupervisorModelActions::call(std::string model, bool load) {
  const std::weak_ptr<bool> alive = alive_;
  const std::string target = "/children/" + model + (load ? "/load" : "/unload");
  const std::string token = readToken(tokenFile_);
  const SupervisorReply r = co_await callSupervisor(io_.get_executor(), control_, http::verb::post, target, token);
  if (alive.expired() || !models_) co_return;
  const bool accepted = r.status == 202;
  uint64_t generation = 0;
  std::string message = r.status == 0 ? r.body : "HTTP " + std::to_string(r.status);
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object()) {
    if (const auto g = j.find("generation"); g != j.end() && g->is_number_unsigned()) generation = g->get<uint64_t>();
    if (const auto e = j.find("error"); e != j.end() && e->is_object())
      if (const auto m = e->find("message"); m != e->end() && m->is_string()) message = m->get<std::string>();
  }
  if (load) models_->loadAnswered(model, accepted, generation, message);
  else models_->unloadAnswered(model, accepted, message);
}

}  // namespace qmesh::router
