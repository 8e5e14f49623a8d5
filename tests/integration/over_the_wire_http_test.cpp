// What no HTTP library would send, to the real router: oversize headers and bodies,
// Content-Length with Transfer-Encoding (request smuggling), pipelining, and request ids
// carrying CRLF or non-ASCII bytes.
#include "tests/integration/over_the_wire_fixture.h"
#include "tests/integration/wire_clients.h"
#include "tests/router/raw_http.h"

using namespace qmesh::test;
using namespace std::chrono;
using nlohmann::json;

namespace {

std::string host() { return "Host: 127.0.0.1:" + std::to_string(OverTheWire::a().routerPort()) + "\r\n"; }

std::string chatRequest(const std::string& requestId, const std::string& extraHeaders = "") {
  const std::string body = chatBody("demo-a", 2);
  return "POST /v1/chat/completions HTTP/1.1\r\n" + host() + "Content-Type: application/json\r\nx-request-id: " +
         requestId + "\r\n" + extraHeaders + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// The OpenAI error code of a raw response, or a description of what came instead.
std::string errorCode(const std::string& response) {
  const auto j = json::parse(bodyOf(response), nullptr, false);
  if (j.is_discarded() || !j["error"].is_object()) return "<not an OpenAI error: " + response.substr(0, 300) + ">";
  return j["error"].value("code", "<no code>");
}

// A response header's value ("" when absent); `name` lower-case.
std::string headerOf(const std::string& response, const std::string& name) {
  const auto end = response.find("\r\n\r\n");
  std::size_t pos = response.find("\r\n");
  while (pos != std::string::npos && pos < end) {
    const auto next = response.find("\r\n", pos + 2);
    const std::string line = response.substr(pos + 2, next - pos - 2);
    const auto colon = line.find(':');
    std::string field = line.substr(0, colon);
    for (auto& c : field) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (colon != std::string::npos && field == name) return line.substr(line.find_first_not_of(' ', colon + 1));
    pos = next;
  }
  return "";
}

std::string rawExchange(const std::string& request) {
  RawConnection c(OverTheWire::a().routerPort());
  if (!c.connected() || !c.send(request)) return "<could not send>";
  return c.readResponse(seconds(10));
}

}  // namespace

TEST_F(OverTheWire, OversizeHeaderFieldsAre431) {
  std::string fields;
  for (int i = 0; i < 100; ++i) fields += "X-Filler-" + std::to_string(i) + ": " + std::string(1000, 'f') + "\r\n";
  const std::string response = rawExchange("GET /health HTTP/1.1\r\n" + host() + fields + "\r\n");
  EXPECT_EQ(statusOf(response), 431) << response;
  EXPECT_EQ(errorCode(response), "request_header_too_large");
}

TEST_F(OverTheWire, LongRequestLineIs414AndNotRelayedToTheWorker) {
  const std::string response = rawExchange(chatRequest("long-target").replace(
      0, std::string("POST /v1/chat/completions").size(), "POST /v1/chat/completions?" + std::string(20000, 'q')));
  EXPECT_EQ(statusOf(response), 414) << response.substr(0, 300);
  EXPECT_EQ(errorCode(response), "uri_too_long");
  EXPECT_EQ(a().log().find("req=long-target POST /v1/chat/completions model=demo-a"), std::string::npos);
}

TEST_F(OverTheWire, OversizeBodyWithContentLengthIs413BeforeTheBodyIsSent) {
  RawConnection c(a().routerPort());
  ASSERT_TRUE(c.send("POST /v1/chat/completions HTTP/1.1\r\n" + host() +
                     "Content-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n"));
  const std::string response = c.readResponse(seconds(5));  // not a byte of the gigabyte sent
  EXPECT_EQ(statusOf(response), 413) << response;
  EXPECT_EQ(errorCode(response), "request_too_large");
}

TEST_F(OverTheWire, OversizeChunkedBodyIs413WithoutReadingTheRest) {
  // 64 KiB chunks, up to 64 MiB: the router must answer after about kMaxBodyBytes (1 MiB);
  // what we manage to send before we see the answer is that plus the sockets' buffers.
  const std::string chunk = "10000\r\n" + std::string(0x10000, 'x') + "\r\n";
  constexpr uint64_t kOffered = 64ull << 20;
  const auto r = uploadUntilAnswered(a().routerPort(),
                                     "POST /v1/chat/completions HTTP/1.1\r\n" + host() +
                                         "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                                     chunk, kOffered, seconds(20));
  EXPECT_EQ(statusOf(r.response), 413) << r.response.substr(0, 300);
  EXPECT_EQ(errorCode(r.response), "request_too_large");
  EXPECT_LT(r.bytesSent, kOffered / 4) << "the router read far past its limit before answering";
}

TEST_F(OverTheWire, ContentLengthWithTransferEncodingIs400AndTheSmuggledRequestIsNotExecuted) {
  // A front proxy that trusts Content-Length sees one request; one that trusts chunked sees a
  // second, "smuggled" one in the body. The router must refuse the ambiguity and run neither.
  const std::string smuggled = chatRequest("smuggled-0001");
  const std::string body = "0\r\n\r\n" + smuggled;
  for (const char* order : {"cl-first", "te-first"}) {
    const std::string cl = "Content-Length: " + std::to_string(body.size()) + "\r\n";
    const std::string te = "Transfer-Encoding: chunked\r\n";
    RawConnection c(a().routerPort());
    ASSERT_TRUE(c.send("POST /v1/chat/completions HTTP/1.1\r\n" + host() + "Content-Type: application/json\r\n" +
                       (std::string(order) == "cl-first" ? cl + te : te + cl) + "\r\n" + body));
    const std::string response = c.readResponse(seconds(5));
    EXPECT_EQ(statusOf(response), 400) << order << ": " << response;
    EXPECT_EQ(errorCode(response), "invalid_request") << order;
    EXPECT_TRUE(c.closedWithin(seconds(5))) << order << ": the connection stayed open after the refusal";
  }
  // A request that was served would be in a's log by now (its access line), as this one is.
  ASSERT_EQ(statusOf(rawExchange(chatRequest("after-smuggling"))), 200);
  ASSERT_TRUE(waitUntil([] { return a().log().find("req=after-smuggling") != std::string::npos; }, seconds(5)));
  EXPECT_EQ(a().log().find("req=smuggled-0001"), std::string::npos) << "the smuggled request was executed";
}

TEST_F(OverTheWire, PipelinedRequestsAreAnsweredInOrder) {
  RawConnection c(a().routerPort());
  ASSERT_TRUE(c.send("GET /health HTTP/1.1\r\n" + host() + "x-request-id: pipe-1\r\n\r\n" + chatRequest("pipe-2") +
                     "GET /v1/models HTTP/1.1\r\n" + host() + "x-request-id: pipe-3\r\n\r\n"));
  for (const std::string id : {"pipe-1", "pipe-2", "pipe-3"}) {
    const std::string response = c.readResponse(seconds(20));
    EXPECT_EQ(statusOf(response), 200) << id << ": " << response.substr(0, 300);
    EXPECT_EQ(headerOf(response, "x-request-id"), id);
  }
  const auto models = json::parse(bodyOf(c.readResponse(milliseconds(1))), nullptr, false);
  EXPECT_TRUE(models.is_discarded()) << "a fourth response";
}

TEST_F(OverTheWire, RequestIdWithFoldedCrlfOrNonAsciiIsReplacedNotEchoed) {
  // obs-fold: the parser joins the lines with a space; raw UTF-8 and other bytes >= 0x80.
  for (const std::string& id : {std::string("abc\r\n X-Injected: yes"), std::string("caf\xc3\xa9"),
                               std::string("id-\xff\xfe")}) {
    const std::string response = rawExchange(chatRequest(id));
    EXPECT_EQ(statusOf(response), 200) << response.substr(0, 300);
    EXPECT_EQ(headerOf(response, "x-injected"), "") << "header injection";
    const std::string echoed = headerOf(response, "x-request-id");
    EXPECT_EQ(echoed.size(), 16u) << echoed;  // a fresh id instead
    EXPECT_EQ(echoed.find_first_not_of("0123456789abcdef"), std::string::npos) << echoed;
  }
}

TEST_F(OverTheWire, RequestIdWithABareCrOrLfIs400) {
  // A lone CR or LF inside a field value is how a header would be split: refused outright.
  for (const std::string& id : {std::string("abc\rX-Injected: yes"), std::string("abc\nX-Injected: yes")}) {
    const std::string response = rawExchange(chatRequest(id));
    EXPECT_EQ(statusOf(response), 400) << response.substr(0, 300);
    EXPECT_EQ(errorCode(response), "invalid_request");
    EXPECT_EQ(headerOf(response, "x-injected"), "");
  }
}
