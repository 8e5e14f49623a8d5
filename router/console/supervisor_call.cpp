#include "router/console/supervisor_call.h"

namespace qmesh::router {

net::awaitable<SupervisorReply> callSupervisor(net::any_io_executor ex, const HostPort& control, http::verb method,
                                               const std::string& target, const std::string& token) {
  beast::tcp_stream stream(ex);
  error_code ec;
  const auto address = net::ip::make_address(control.host, ec);
  if (ec) co_return SupervisorReply{0, "node.control " + control.str() + " is not an IP address"};
  // The supervisor answers at once (a restart is only begun); anything slower is broken.
  stream.expires_after(std::chrono::seconds(3));
  co_await stream.async_connect(tcp::endpoint(address, control.port), awaitEc(ec));
  if (ec) co_return SupervisorReply{0, "the supervisor at " + control.str() + " does not answer: " + ec.message()};
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, control.str());
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  req.keep_alive(false);
  req.prepare_payload();
  co_await http::async_write(stream, req, awaitEc(ec));
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(4 << 20);  // a log tail is at most a few hundred KB
  if (!ec) co_await http::async_read(stream, buf, parser, awaitEc(ec));
  if (ec) co_return SupervisorReply{0, "the supervisor at " + control.str() + " did not answer: " + ec.message()};
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  auto res = parser.release();
  co_return SupervisorReply{static_cast<int>(res.result_int()), std::move(res.body())};
}

}  // namespace qmesh::router
