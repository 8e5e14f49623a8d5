#include "router/proxy/remote_load.h"

#include <nlohmann/json.hpp>

#include "common/logging.h"
#include "router/proxy/client_link.h"
#include "router/proxy/hop_load.h"
#include "router/proxy/hop_session.h"
#include "router/proxy/mesh_upstream.h"
#include "router/router_services.h"

namespace qmesh::router {

namespace {

// The answer's body is an OpenAI error at most: a few hundred bytes. A peer is a member but
// may still misbehave: nothing larger is read.
constexpr std::uint64_t kMaxAnswerBytes = 16 * 1024;
constexpr std::size_t kMaxReasonChars = 300;

// Why the node did not load it, from its OpenAI-shaped error; text from another node, cut.
std::string reasonOf(int status, const std::string& body) {
  std::string why = "HTTP " + std::to_string(status);
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object())
    if (const auto e = j.find("error"); e != j.end() && e->is_object())
      if (const auto m = e->find("message"); m != e->end() && m->is_string())
        why = m->get<std::string>().substr(0, kMaxReasonChars);
  return why;
}

}  // namespace

RemoteLoadRequests::RemoteLoadRequests(net::io_context& io, std::shared_ptr<RouterServices> services)
    : io_(io), services_(std::move(services)) {}

RemoteLoadRequests::~RemoteLoadRequests() {
  *alive_ = false;
  stop();
}

void RemoteLoadRequests::askLoad(const WorkerPtr& worker, const std::string& model) {
  net::co_spawn(io_, ask(worker->info, model), logExceptions("mesh load request"));
}

net::awaitable<void> RemoteLoadRequests::ask(WorkerInfo target, std::string model) {
  const std::weak_ptr<bool> alive = alive_;
  const std::shared_ptr<RouterServices> services = services_;
  const RouterConfig& cfg = services->context.config;
  bool ready = false;
  std::string why;
  dataplane::SecureChannel channel(io_.get_executor());
  net::steady_timer deadline(io_);
  // A handler that fired as the answer arrived may run after the channel is gone: `over` says so.
  auto over = std::make_shared<bool>(false);
  deadline.expires_after(cfg.queue_timeout + cfg.connect_timeout + cfg.header_timeout);
  deadline.async_wait([&channel, over](error_code ec) {
    if (!ec && !*over) channel.close();  // the pending operation fails: timed out
  });
  error_code ec = make_error_code(net::error::not_connected);
  if (services->mesh)
    ec = co_await connectMeshChannel(channel, target.dataAddress, target.peer, services->mesh->identity(),
                                     cfg.connect_timeout, cfg.header_timeout);
  dataplane::ChannelPool::InFlight inFlight;
  http::response_parser<http::string_body> parser;
  if (!ec) {
    inFlight = services->meshChannels.trackInFlight(target.peer, channel);  // its death closes it
    http::request<http::empty_body> req{http::verb::post, std::string(kLoadPathPrefix) + model, 11};
    req.set(http::field::host, target.node);
    req.set(kHopCountHeader, "1");
    req.set("x-request-id", newRequestId());
    req.keep_alive(false);
    co_await http::async_write(channel, req, awaitEc(ec));
  }
  if (!ec) {
    parser.body_limit(kMaxAnswerBytes);
    beast::flat_buffer buffer;
    co_await http::async_read(channel, buffer, parser, awaitEc(ec));
  }
  *over = true;
  deadline.cancel();
  inFlight.release();
  channel.close();
  if (ec) why = "cannot reach it over the data plane (" + ec.message() + ")";
  else if (parser.get().result_int() == 200) ready = true;
  else why = reasonOf(parser.get().result_int(), parser.get().body());
  if (alive.expired() || !loads_) co_return;
  loads_->loadAnswered(model, target.node, ready, why);
}

}  // namespace qmesh::router
