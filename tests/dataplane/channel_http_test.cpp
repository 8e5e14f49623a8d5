// Beast runs over SecureChannel unmodified: a request and response with http::async_read /
// async_write, and a chunked SSE stream read piece by piece the way UpstreamClient reads
// llama-server (async_read_some into a buffer_body), each event arriving on its own.
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "router/dataplane/secure_channel.h"
#include "tests/dataplane/test_loop.h"

namespace qmesh::dataplane {
namespace {

using namespace test;

net::awaitable<error_code> serveOneRequest(SecureChannel& ch, std::string& seenBody) {
  error_code ec;
  beast::flat_buffer buf;
  http::request<http::string_body> req;
  co_await http::async_read(ch, buf, req, awaitEc(ec));
  if (ec) co_return ec;
  seenBody = req.body();
  http::response<http::string_body> res{http::status::ok, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = R"({"model":"demo","choices":[]})";
  res.prepare_payload();
  co_await http::async_write(ch, res, awaitEc(ec));
  co_return ec;
}

net::awaitable<error_code> askOnce(SecureChannel& ch, http::response<http::string_body>& res) {
  error_code ec;
  http::request<http::string_body> req{http::verb::post, "/v1/chat/completions", 11};
  req.set(http::field::host, "mesh");
  req.set(http::field::content_type, "application/json");
  req.body() = std::string(100000, 'p');  // a long prompt: several frames
  req.prepare_payload();
  co_await http::async_write(ch, req, awaitEc(ec));
  if (ec) co_return ec;
  beast::flat_buffer buf;
  co_await http::async_read(ch, buf, res, awaitEc(ec));
  co_return ec;
}

TEST(ChannelHttpTest, BeastRequestAndResponseCrossTheChannel) {
  net::io_context io;
  const Identity a = identityFromByte(1), b = identityFromByte(2);
  ChannelPair p(io, a, b);
  std::string seenBody;
  http::response<http::string_body> res;
  auto served = spawn(io, serveOneRequest(p.server, seenBody));
  auto asked = spawn(io, askOnce(p.client, res));
  ASSERT_TRUE(runUntil(io, [&] { return served->has_value() && asked->has_value(); }));
  EXPECT_FALSE(**served) << (*served)->message();
  EXPECT_FALSE(**asked) << (*asked)->message();
  EXPECT_EQ(seenBody, std::string(100000, 'p'));
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), R"({"model":"demo","choices":[]})");
}

// The server side of an SSE stream; it sends event k only once the client has event k-1,
// so a relay that batched or held back events would stall here instead of passing.
struct SseScript {
  std::vector<std::string> events;
  int received = 0;  // events the client has seen
  net::steady_timer* gate = nullptr;
};

std::string chunk(const std::string& data) {
  char size[16];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + data + "\r\n";
}

net::awaitable<error_code> serveSse(SecureChannel& ch, SseScript& script) {
  error_code ec;
  beast::flat_buffer buf;
  http::request<http::string_body> req;
  co_await http::async_read(ch, buf, req, awaitEc(ec));
  if (ec) co_return ec;
  const std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
  co_await net::async_write(ch, net::buffer(head), awaitEc(ec));
  for (std::size_t k = 0; k < script.events.size() && !ec; ++k) {
    while (script.received < static_cast<int>(k)) {
      script.gate->expires_after(std::chrono::hours(1));
      co_await script.gate->async_wait(awaitEc(ec));  // cancelled by the client on arrival
    }
    co_await net::async_write(ch, net::buffer(chunk(script.events[k])), awaitEc(ec));
  }
  if (!ec) co_await net::async_write(ch, net::buffer(std::string("0\r\n\r\n")), awaitEc(ec));
  co_return ec;
}

net::awaitable<error_code> readSse(SecureChannel& ch, SseScript& script, std::string& body, bool& isDone) {
  error_code ec;
  http::request<http::empty_body> req{http::verb::get, "/events", 11};
  req.set(http::field::host, "mesh");
  co_await http::async_write(ch, req, awaitEc(ec));
  if (ec) co_return ec;
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  co_await http::async_read_header(ch, buffer, parser, awaitEc(ec));
  if (ec) co_return ec;
  if (parser.get()[http::field::content_type] != "text/event-stream") co_return net::error::invalid_argument;
  char piece[4096];
  std::size_t seenEvents = 0;
  while (!parser.is_done()) {
    parser.get().body().data = piece;
    parser.get().body().size = sizeof piece;
    co_await http::async_read_some(ch, buffer, parser, awaitEc(ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return ec;
    body.append(piece, sizeof piece - parser.get().body().size);
    std::size_t events = 0;
    for (std::size_t at = 0; (at = body.find("\n\n", at)) != std::string::npos; at += 2) ++events;
    if (events > seenEvents) {
      seenEvents = events;
      script.received = static_cast<int>(events);
      script.gate->cancel();
    }
  }
  isDone = true;
  co_return ec;
}

TEST(ChannelHttpTest, SseEventsArriveOneByOneThroughTheChannel) {
  net::io_context io;
  const Identity a = identityFromByte(1), b = identityFromByte(2);
  ChannelPair p(io, a, b);
  net::steady_timer gate(io);
  SseScript script;
  script.gate = &gate;
  for (int i = 0; i < 5; ++i)
    script.events.push_back("data: {\"choices\":[{\"delta\":{\"content\":\"tok" + std::to_string(i) + "\"}}]}\n\n");
  script.events.push_back("data: [DONE]\n\n");
  std::string body;
  bool isDone = false;
  auto served = spawn(io, serveSse(p.server, script));
  auto read = spawn(io, readSse(p.client, script, body, isDone));
  ASSERT_TRUE(runUntil(io, [&] { return served->has_value() && read->has_value(); }));
  EXPECT_FALSE(**served) << (*served)->message();
  EXPECT_FALSE(**read) << (*read)->message();
  EXPECT_TRUE(isDone);
  std::string expected;
  for (const auto& e : script.events) expected += e;
  EXPECT_EQ(body, expected);
  EXPECT_EQ(script.received, 6);
}

}  // namespace
}  // namespace qmesh::dataplane
