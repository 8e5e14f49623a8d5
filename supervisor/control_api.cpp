#include "supervisor/control_api.h"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <sstream>

#include "common/logging.h"
#include "supervisor/control_token.h"
#include "supervisor/node_supervisor.h"

namespace qmesh {

namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

constexpr auto kLongPoll = std::chrono::seconds(25);
constexpr auto kIdle = std::chrono::seconds(60);

std::string queryParam(const std::string& target, const std::string& key) {
  const auto q = target.find('?');
  if (q == std::string::npos) return "";
  std::string rest = target.substr(q + 1);
  size_t pos = 0;
  while (pos <= rest.size()) {
    const size_t amp = std::min(rest.find('&', pos), rest.size());
    const std::string pair = rest.substr(pos, amp - pos);
    if (pair.rfind(key + "=", 0) == 0) return pair.substr(key.size() + 1);
    pos = amp + 1;
  }
  return "";
}

// Paths, child names and GGUF metadata come from outside: invalid UTF-8 is replaced, never
// thrown (type_error.316 escaping a handler used to end the supervisor and every child).
std::string dumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string errorJson(const std::string& message) {
  return dumpJson(nlohmann::json{{"error", {{"message", message}}}});
}

// A browser page can point its own host name at 127.0.0.1 (DNS rebinding) and then read
// GET /status as a same-origin request, without an Origin header; its Host header still
// names the page's domain. Empty (HTTP/1.0) is no browser.
bool isLoopbackHostHeader(std::string_view header) {
  std::string host(header);
  if (host.empty()) return true;
  if (host.front() == '[') {
    const auto end = host.find(']');
    if (end == std::string::npos) return false;
    host = host.substr(1, end - 1);
  } else if (const auto colon = host.rfind(':'); colon != std::string::npos) {
    host = host.substr(0, colon);
  }
  if (host == "localhost") return true;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(host, ec);
  return !ec && address.is_loopback();
}

// "/children/NAME<suffix>" -> NAME; "" when the path is anything else. Plain string work:
// std::regex backtracks recursively, on a path as long as the client likes.
std::string childTarget(std::string_view path, std::string_view kSuffix) {
  constexpr std::string_view kPrefix = "/children/";
  if (path.size() <= kPrefix.size() + kSuffix.size() || !path.starts_with(kPrefix) ||
      !path.ends_with(kSuffix))
    return "";
  const std::string_view name = path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size());
  return name.find('/') == std::string_view::npos ? std::string(name) : "";
}

}  // namespace

class ControlApi::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, ControlApi& api) : stream_(std::move(socket)), api_(api) {}

  void start() { read(); }

 private:
  void read() {
    req_ = {};
    stream_.expires_after(kIdle);
    http::async_read(stream_, buffer_, req_,
                     [self = shared_from_this()](boost::beast::error_code ec, size_t) {
                       if (ec) return self->stream_.socket().close();
                       self->route();
                     });
  }

  void route() {
    try {
      if (!admit()) return;
      dispatch();
    } catch (const std::exception& e) {
      ++api_.counters_.handler_errors;
      spdlog::error("control API: {} {} failed: {}", std::string(req_.method_string()),
                    std::string(req_.target()), e.what());
      reply(http::status::internal_server_error, errorJson("internal error; see the supervisor's log"));
    }
  }

  // Refuses web pages and unauthenticated changes; answers and returns false when it does.
  bool admit() {
    const auto host = req_[http::field::host];
    if (!isLoopbackHostHeader(std::string_view(host.data(), host.size()))) {
      ++api_.counters_.host;
      reply(http::status::forbidden,
            errorJson("Host '" + std::string(host) + "' is not a loopback address: the control API "
                      "answers only requests addressed to 127.0.0.1, ::1 or localhost"));
      return false;
    }
    if (req_.find(http::field::origin) != req_.end()) {
      ++api_.counters_.origin;
      reply(http::status::forbidden,
            errorJson("requests with an Origin header (from a web page) are refused: the control "
                      "API is for qmesh-supervisor and qmesh-router"));
      return false;
    }
    if (req_.method() == http::verb::get) return true;
    const auto auth = req_.find(http::field::authorization);
    if (auth == req_.end()) {
      ++api_.counters_.unauthorized;
      reply(http::status::unauthorized,
            errorJson("this request changes the node and needs `Authorization: Bearer TOKEN`, the "
                      "token in <node.data_dir>/control.token (qmesh-supervisor stop/restart send it)"));
      return false;
    }
    if (!authorizationMatches(std::string_view(auth->value().data(), auth->value().size()), api_.token_)) {
      ++api_.counters_.forbidden;
      reply(http::status::forbidden,
            errorJson("wrong control token: use the one in <node.data_dir>/control.token, which the "
                      "supervisor rewrites at each start"));
      return false;
    }
    return true;
  }

  void dispatch() {
    const std::string target(req_.target());
    const std::string path = target.substr(0, target.find('?'));
    const bool get = req_.method() == http::verb::get, post = req_.method() == http::verb::post;
    if (path == "/status" && get) return status(target);
    if (path == "/metrics" && get)
      return reply(http::status::ok, api_.node_.metrics() + controlMetrics() + api_.longPollMetrics(), "text/plain; version=0.0.4");
    for (const bool isLoad : {true, false})
      if (const std::string m = childTarget(path, isLoad ? "/load" : "/unload"); !m.empty() && post) {
        const auto r = isLoad ? api_.node_.load(m) : api_.node_.unload(m);
        return reply(static_cast<http::status>(r.http_status),
                     r.http_status == 202
                         // The generation whose /status shows the change: the router waits for it.
                         ? dumpJson({{isLoad ? "loading" : "unloading", m}, {"generation", api_.node_.generation()}})
                         : errorJson(r.message));
      }
    if (const std::string child = childTarget(path, "/log"); !child.empty() && get) return logTail(child);
    if (const std::string child = childTarget(path, "/restart"); !child.empty() && post) {
      if (!api_.node_.restart(child))
        return reply(http::status::not_found, errorJson("no child named '" + child + "'"));
      return reply(http::status::accepted, dumpJson({{"restarting", child}}));
    }
    if (path == "/mesh/reload-keys" && post) return reloadKeys();
    if (path == "/shutdown" && post) {
      reply(http::status::accepted, R"({"stopping":true})");
      boost::asio::post(api_.io_, api_.onShutdown_);
      return;
    }
    if (path == "/drain" && post && api_.onDrain_) {
      reply(http::status::accepted, R"({"draining":true})");
      boost::asio::post(api_.io_, api_.onDrain_);
      return;
    }
    reply(http::status::not_found,
          errorJson("unknown endpoint " + std::string(req_.method_string()) + " " + path +
                    " (try GET /status, GET /metrics, GET /children/NAME/log, POST /children/NAME/restart, "
                    "POST /children/NAME/load, POST /children/NAME/unload, "
                    "POST /mesh/reload-keys, POST /drain, POST /shutdown)"));
  }

  // The child's last output lines (log_tail.h): text from the child, so dumped with replace.
  void logTail(const std::string& child) {
    const LogTail* tail = api_.node_.logTail(child);
    if (!tail) return reply(http::status::not_found, errorJson("no child named '" + child + "'"));
    reply(http::status::ok, dumpJson({{"child", child}, {"lines", tail->lines()}, {"dropped", tail->dropped()}}));
  }

  std::string controlMetrics() const {
    const Counters& c = api_.counters_;
    std::ostringstream out;
    out << "# HELP qmesh_supervisor_control_requests_rejected_total Control API requests refused "
           "or failed, by reason.\n"
           "# TYPE qmesh_supervisor_control_requests_rejected_total counter\n";
    for (const auto& [reason, n] : {std::pair<const char*, uint64_t>{"host", c.host},
                                    {"origin", c.origin},
                                    {"unauthorized", c.unauthorized},
                                    {"forbidden", c.forbidden},
                                    {"handler_error", c.handler_errors}})
      out << "qmesh_supervisor_control_requests_rejected_total{reason=\"" << reason << "\"} " << n << "\n";
    out << "# HELP qmesh_supervisor_event_loop_exceptions_total Exceptions that reached the event "
           "loop (logged; the supervisor carried on).\n"
           "# TYPE qmesh_supervisor_event_loop_exceptions_total counter\n"
        << "qmesh_supervisor_event_loop_exceptions_total " << c.loop_exceptions << "\n"
        << "# HELP qmesh_supervisor_control_accept_errors_total Connections the control API could not "
           "accept (e.g. out of descriptors); it retried.\n"
           "# TYPE qmesh_supervisor_control_accept_errors_total counter\n"
        << "qmesh_supervisor_control_accept_errors_total " << c.accept_errors << "\n";
    return out.str();
  }

  void reloadKeys() {
    switch (api_.node_.reloadRouterKeys()) {
      case KeyReload::Signalled:
        return reply(http::status::ok, R"({"signalled":true})");
      case KeyReload::Deferred:
        return reply(http::status::accepted, R"({"signalled":false,"deferred":true})");
      case KeyReload::NoRouter:
        return reply(http::status::conflict,
                     errorJson("no router child is running; it reads the mesh key file when it starts"));
    }
  }

  void status(const std::string& target) {
    const std::string after = queryParam(target, "after");
    if (after.empty() || api_.node_.generation() > std::strtoull(after.c_str(), nullptr, 10))
      return reply(http::status::ok, dumpJson(api_.node_.status()));
    auto timer = std::make_shared<boost::asio::steady_timer>(api_.io_, kLongPoll);
    // Polls that timed out leave expired entries; without this a node that never changes
    // would grow the list by one per poll.
    std::erase_if(api_.waiters_, [](const auto& w) { return w.expired(); });
    api_.waiters_.push_back(timer);
    stream_.expires_never();
    timer->async_wait([self = shared_from_this(), timer](boost::beast::error_code) {
      self->reply(http::status::ok, dumpJson(self->api_.node_.status()));
    });
  }

  void reply(http::status status, std::string body, const char* type = "application/json") {
    auto res = std::make_shared<http::response<http::string_body>>(status, req_.version());
    res->set(http::field::server, "qmesh-supervisor");
    res->set(http::field::content_type, type);
    res->keep_alive(req_.keep_alive());
    res->body() = std::move(body);
    res->prepare_payload();
    stream_.expires_after(kIdle);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](boost::beast::error_code ec, size_t) {
                        if (ec || !res->keep_alive()) {
                          boost::beast::error_code ignored;
                          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                          return;
                        }
                        self->read();
                      });
  }

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  ControlApi& api_;
};

ControlApi::ControlApi(boost::asio::io_context& io, NodeSupervisor& node,
                       std::function<void()> onShutdown, std::string token)
    : io_(io), node_(node), onShutdown_(std::move(onShutdown)), token_(std::move(token)), acceptor_(io), acceptRetry_(io) {}

ControlApi::~ControlApi() { close(); }

Status ControlApi::listen(const HostPort& address) {
  boost::system::error_code ec;
  const auto ip = boost::asio::ip::make_address(address.host, ec);
  if (ec) return makeError("node.control: '" + address.host + "' is not an IP address");
  const tcp::endpoint ep(ip, address.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) {
    acceptor_.close();
    return makeError("node.control " + address.str() + " is not available (" + ec.message() +
                     "): another qmesh-supervisor may be running with this config; stop it, or "
                     "set node.control to a free port");
  }
  accept();
  return Ok{};
}

void ControlApi::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) return;  // closed
    if (ec) {
      // EMFILE/ENFILE (a flood of connections, or children holding descriptors) or an
      // aborted handshake: the listener itself is fine. Returning here used to end the
      // control API for good; wait a moment (the connection stays in the backlog) and retry.
      ++counters_.accept_errors;
      spdlog::warn("control API: accept failed ({}); retrying in {} ms", ec.message(), kAcceptRetry.count());
      acceptRetry_.expires_after(kAcceptRetry);
      acceptRetry_.async_wait([this](boost::system::error_code timerEc) {
        if (!timerEc && acceptor_.is_open()) accept();
      });
      return;
    }
    std::make_shared<Session>(std::move(socket), *this)->start();
    accept();
  });
}

void ControlApi::close() {
  boost::system::error_code ec;
  acceptor_.close(ec);
  acceptRetry_.cancel();
  notifyChange();
}

size_t ControlApi::parkedLongPolls() const {
  size_t n = 0;
  for (const auto& w : waiters_) n += w.expired() ? 0 : 1;
  return n;
}

std::string ControlApi::longPollMetrics() const {
  return "# HELP qmesh_supervisor_status_long_polls Long-polls of /status?after=N waiting for a change.\n"
         "# TYPE qmesh_supervisor_status_long_polls gauge\n"
         "qmesh_supervisor_status_long_polls " +
         std::to_string(parkedLongPolls()) + "\n";
}

void ControlApi::notifyChange() {
  for (auto& w : waiters_)
    if (auto t = w.lock()) t->cancel();
  waiters_.clear();
}

}  // namespace qmesh
