// HTTP framing a hostile client gets wrong on purpose, against a real router (in-process, a
// FakeUpstream behind it): oversize headers and targets, Content-Length with
// Transfer-Encoding (request smuggling), bare CR in a header, request ids that are not
// printable ASCII, pipelining. tests/integration/over_the_wire_http_test.cpp sends the same
// to the real binaries in a mesh.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/router/fake_upstream.h"
#include "tests/router/raw_http.h"
#include "tests/router/router_harness.h"
#include "tests/support/http_client.h"

using namespace qmesh;
using namespace qmesh::test;
using namespace std::chrono;

namespace {


class HostileFraming : public ::testing::Test {
 protected:
  HostileFraming() : up_(script()), r_(RouterHarness::config({router::StaticWorker{"m", "127.0.0.1", up_.port(), 4}})) {}

  static FakeUpstreamScript script() {
    FakeUpstreamScript s;
    s.sse = false;
    s.body = R"({"ok":true})";
    return s;
  }
  std::string host() const { return "Host: 127.0.0.1:" + std::to_string(r_.port()) + "\r\n"; }
  std::string chat(const std::string& head = "POST /v1/chat/completions", const std::string& extra = "") const {
    return head + " HTTP/1.1\r\n" + host() + "Content-Type: application/json\r\n" + extra +
           "Content-Length: " + std::to_string(kChat.size()) + "\r\n\r\n" + kChat;
  }
  static std::string code(const std::string& response) {
    const auto j = nlohmann::json::parse(bodyOf(response), nullptr, false);
    return j.is_object() && j["error"].is_object() ? j["error"].value("code", "") : "<not an error: " + response + ">";
  }
  // The router still serves an ordinary request.
  void expectServing() { EXPECT_EQ(httpPostJson(r_.url("/v1/chat/completions"), kChat).status, 200); }

  FakeUpstream up_;
  RouterHarness r_;
};

}  // namespace

TEST_F(HostileFraming, HeaderOver32KiBIs431AndTheConnectionCloses) {
  RawConnection c(r_.port());
  ASSERT_TRUE(c.send("GET /health HTTP/1.1\r\n" + host() + "X-Filler: " + std::string(40000, 'f') + "\r\n\r\n"));
  const std::string res = c.readResponse();
  EXPECT_EQ(statusOf(res), 431) << res;
  EXPECT_EQ(code(res), "request_header_too_large");
  EXPECT_TRUE(c.closedWithin(seconds(5)));
  expectServing();
}

TEST_F(HostileFraming, RequestTargetOver8KiBIs414AndNeverReachesTheWorker) {
  RawConnection c(r_.port());
  ASSERT_TRUE(c.send(chat("POST /v1/chat/completions?" + std::string(9000, 'q'))));
  const std::string res = c.readResponse();
  EXPECT_EQ(statusOf(res), 414) << res;
  EXPECT_EQ(code(res), "uri_too_long");
  EXPECT_EQ(up_.requests(), 0);
  // 8 KiB itself is fine.
  RawConnection ok(r_.port());
  ASSERT_TRUE(ok.send(chat("POST /v1/chat/completions?" + std::string(8 * 1024 - 26, 'q'))));
  EXPECT_EQ(statusOf(ok.readResponse()), 200);
}

TEST_F(HostileFraming, ContentLengthWithTransferEncodingIs400AndTheSmuggledRequestNeverReachesTheWorker) {
  const std::string body = "0\r\n\r\n" + chat();  // a second request, for whoever trusts chunked
  for (const char* order : {"cl-first", "te-first"}) {
    const std::string cl = "Content-Length: " + std::to_string(body.size()) + "\r\n";
    const std::string te = "Transfer-Encoding: chunked\r\n";
    RawConnection c(r_.port());
    ASSERT_TRUE(c.send("POST /v1/chat/completions HTTP/1.1\r\n" + host() + (std::string(order) == "cl-first" ? cl + te : te + cl) +
                       "\r\n" + body));
    const std::string res = c.readResponse();
    EXPECT_EQ(statusOf(res), 400) << order << ": " << res;
    EXPECT_EQ(code(res), "invalid_request") << order;
    EXPECT_TRUE(c.closedWithin(seconds(5))) << order;
  }
  EXPECT_EQ(up_.requests(), 0) << "a smuggled request reached the worker";
  expectServing();
}

TEST_F(HostileFraming, BareCrInAHeaderIs400) {
  RawConnection c(r_.port());
  ASSERT_TRUE(c.send(chat("POST /v1/chat/completions", "x-request-id: abc\rX-Injected: yes\r\n")));
  const std::string res = c.readResponse();
  EXPECT_EQ(statusOf(res), 400) << res;
  EXPECT_EQ(res.find("X-Injected"), std::string::npos) << res;
  EXPECT_EQ(up_.requests(), 0);
}

TEST_F(HostileFraming, RequestIdThatIsNotPrintableAsciiIsReplacedNotEchoed) {
  for (const std::string& id : {std::string("abc\r\n X-Injected: yes"), std::string("caf\xc3\xa9")}) {
    RawConnection c(r_.port());
    ASSERT_TRUE(c.send(chat("POST /v1/chat/completions", "x-request-id: " + id + "\r\n")));
    const std::string res = c.readResponse();
    EXPECT_EQ(statusOf(res), 200) << res;
    EXPECT_EQ(res.find("X-Injected"), std::string::npos) << res;
    EXPECT_EQ(res.find("caf"), std::string::npos) << res;
    const auto at = res.find("x-request-id: ");
    ASSERT_NE(at, std::string::npos) << res;
    const std::string echoed = res.substr(at + 14, res.find("\r\n", at) - at - 14);
    EXPECT_EQ(echoed.size(), 16u) << echoed;
    EXPECT_EQ(echoed.find_first_not_of("0123456789abcdef"), std::string::npos) << echoed;
  }
}

TEST_F(HostileFraming, PipelinedRequestsAreAnsweredInOrder) {
  RawConnection c(r_.port());
  ASSERT_TRUE(c.send("GET /health HTTP/1.1\r\n" + host() + "x-request-id: pipe-1\r\n\r\n" +
                     chat("POST /v1/chat/completions", "x-request-id: pipe-2\r\n") + "GET /v1/models HTTP/1.1\r\n" +
                     host() + "x-request-id: pipe-3\r\n\r\n"));
  for (const std::string id : {"pipe-1", "pipe-2", "pipe-3"}) {
    const std::string res = c.readResponse();
    EXPECT_EQ(statusOf(res), 200) << id << ": " << res;
    EXPECT_NE(res.find("x-request-id: " + id + "\r\n"), std::string::npos) << id << ": " << res;
  }
  EXPECT_EQ(up_.requests(), 1);
}
