// route() and its helpers against hostile request bodies and headers, as pure functions:
// the nesting limit, wrong types, invalid UTF-8, the affinity key, Bearer spelling, and the
// Host/Origin checks of a router without API keys.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "router/proxy/bounded_json.h"
#include "router/proxy/origin_guard.h"
#include "router/proxy/routes.h"

using namespace qmesh::router;

namespace {

const std::vector<std::string> kApiKeys = {"sk-test-123456"};
const std::vector<std::string> kNoKeys;

Decision chat(std::string_view body) {
  RouteContext ctx{&kNoKeys, {"demo"}};
  return route(IncomingRequest{"POST", "/v1/chat/completions", "", body}, ctx);
}

std::string codeOf(const Decision& d) {
  const auto j = nlohmann::json::parse(d.body, nullptr, false);
  if (j.is_discarded() || !j.contains("error")) return "<not an OpenAI error: " + d.body + ">";
  return j["error"]["code"].get<std::string>();
}

// {"model":"demo","messages":[ + n nested arrays + ]}: the body is 1 deep, messages 2, so
// the innermost array is at depth n + 2.
std::string nestedMessages(int n) {
  return R"({"model":"demo","messages":[)" + std::string(n, '[') + std::string(n, ']') + "]}";
}

}  // namespace

TEST(BoundedJsonTest, AcceptsDepth64AndRejectsDepth65WhileParsing) {
  const std::string at64 = std::string(64, '[') + std::string(64, ']');
  EXPECT_EQ(parseBoundedJson(at64).outcome, BoundedJson::Outcome::Ok);
  const std::string at65 = std::string(65, '[') + std::string(65, ']');
  EXPECT_EQ(parseBoundedJson(at65).outcome, BoundedJson::Outcome::TooDeep);
  // Objects count too, and the check stops the parse: the tail may be garbage.
  std::string objects;
  for (int i = 0; i < 65; ++i) objects += R"({"a":)";
  EXPECT_EQ(parseBoundedJson(objects + "not even json").outcome, BoundedJson::Outcome::TooDeep);
  EXPECT_EQ(parseBoundedJson("[1,2").outcome, BoundedJson::Outcome::Invalid);
}

TEST(RoutesHostileTest, RejectsBodyNestedDeeperThan64) {
  const Decision deep = chat(nestedMessages(200000));
  EXPECT_EQ(deep.status, 400);
  EXPECT_EQ(codeOf(deep), "json_too_deep");
  EXPECT_NE(deep.body.find("64"), std::string::npos) << deep.body;
  EXPECT_EQ(codeOf(chat(nestedMessages(63))), "json_too_deep");  // the innermost is at depth 65
  // Depth 64 parses; then the messages are the wrong shape, which is its own 400.
  EXPECT_EQ(codeOf(chat(nestedMessages(62))), "invalid_type");
}

TEST(RoutesHostileTest, FieldOfTheWrongTypeIs400NamingTheField) {
  struct Case { const char* body; const char* code; const char* names; };
  const Case cases[] = {
      {R"({"model":7,"messages":[]})", "invalid_type", "'model'"},
      {R"({"model":["demo"],"messages":[]})", "invalid_type", "'model'"},
      {R"({"model":"demo","messages":{"role":"user"}})", "invalid_type", "'messages'"},
      {R"({"model":"demo","messages":[1]})", "invalid_type", "'messages[0]'"},
      {R"({"model":"demo","messages":[{"role":"user","content":"a"},"x"]})", "invalid_type", "'messages[1]'"},
      {R"({"model":"demo","messages":[{"role":5,"content":"a"}]})", "invalid_type", "'messages[0].role'"},
      {R"({"model":"demo","messages":[{"content":"a"}]})", "invalid_type", "'messages[0].role'"},
      {R"({"model":"demo","messages":[{"role":"user","content":{"text":"a"}}]})", "invalid_type",
       "'messages[0].content'"},
      {R"({"model":"demo","messages":[{"role":"user","content":[7]}]})", "invalid_type", "'messages[0].content[0]'"},
      {R"({"model":"demo","messages":[{"role":"user","content":[{"type":"text","text":[1]}]}]})", "invalid_type",
       "'messages[0].content[0].text'"},
      {R"({"model":"demo","messages":[],"stream":"yes"})", "invalid_type", "'stream'"},
      {R"({"model":"demo","messages":[],"stream":1})", "invalid_type", "'stream'"},
  };
  for (const auto& c : cases) {
    const Decision d = chat(c.body);
    EXPECT_EQ(d.status, 400) << c.body;
    EXPECT_EQ(codeOf(d), c.code) << c.body;
    EXPECT_NE(d.body.find(c.names), std::string::npos) << c.body << " -> " << d.body;
  }
  RouteContext ctx{&kNoKeys, {"demo"}};
  EXPECT_EQ(codeOf(route({"POST", "/v1/completions", "", R"({"model":"demo","prompt":{"a":1}})"}, ctx)), "invalid_type");
  EXPECT_EQ(codeOf(route({"POST", "/v1/embeddings", "", R"({"model":"demo","input":3})"}, ctx)), "invalid_type");
}

TEST(RoutesHostileTest, WellFormedShapesStillForward) {
  for (const char* body : {
           R"({"model":"demo","messages":[{"role":"user","content":"hi"}],"stream":null})",
           R"({"model":"demo","messages":[{"role":"assistant","content":null,"tool_calls":[]},{"role":"user","content":"x"}]})",
           R"({"model":"demo","messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:"}}]}]})",
       })
    EXPECT_EQ(chat(body).action, Action::Forward) << body << " -> " << chat(body).body;
}

TEST(RoutesHostileTest, InvalidUtf8InPathOrModelGetsValidJsonError) {
  RouteContext ctx{&kNoKeys, {"demo"}};
  const Decision path = route({"GET", "/v1/\xff\xfe", "", ""}, ctx);
  EXPECT_EQ(path.status, 404);
  EXPECT_FALSE(nlohmann::json::parse(path.body, nullptr, false).is_discarded()) << path.body;
  EXPECT_NE(path.body.find("\xef\xbf\xbd"), std::string::npos) << "U+FFFD for the bad bytes: " << path.body;
  const Decision model = chat("{\"model\":\"\xff\",\"messages\":[]}");
  EXPECT_EQ(model.status, 400);
  EXPECT_FALSE(nlohmann::json::parse(model.body, nullptr, false).is_discarded()) << model.body;
  // Names the router learnt elsewhere (a peer's model list) are quoted in the 404 too.
  RouteContext odd{&kNoKeys, {"bad\xc3"}};
  const Decision listed = route({"POST", "/v1/chat/completions", "", R"({"model":"x","messages":[]})"}, odd);
  EXPECT_EQ(listed.status, 404);
  EXPECT_FALSE(nlohmann::json::parse(listed.body, nullptr, false).is_discarded()) << listed.body;
}

TEST(RoutesHostileTest, AffinityKeyIsRoleAndContentTextNotTheRawJson) {
  const auto key = [](const std::string& messages) {
    return chat(R"({"model":"demo","messages":)" + messages + "}").affinity;
  };
  const uint64_t plain = key(R"([{"role":"user","content":"hello"}])");
  ASSERT_NE(plain, 0u);
  // Fields the key does not read, spacing and key order change nothing.
  EXPECT_EQ(plain, key(R"([{"content":"hello", "name":"x", "role":"user"}])"));
  // Content parts hash their text like a string.
  EXPECT_EQ(plain, key(R"([{"role":"user","content":[{"type":"text","text":"hello"}]}])"));
  EXPECT_NE(plain, key(R"([{"role":"user","content":"hellO"}])"));
  EXPECT_NE(plain, key(R"([{"role":"system","content":"hello"},{"role":"user","content":"hello"}])"));
}

TEST(RoutesHostileTest, BearerSchemeIsCaseInsensitive) {
  RouteContext ctx{&kApiKeys, {"demo"}};
  for (const char* auth : {"Bearer sk-test-123456", "bearer sk-test-123456", "BEARER sk-test-123456",
                           "bEaReR  sk-test-123456"})
    EXPECT_EQ(route({"GET", "/v1/models", auth, ""}, ctx).action, Action::Models) << auth;
  for (const char* auth : {"Bearer", "Bearer ", "Bearersk-test-123456", "Basic sk-test-123456", "bearer sk-test-12345"})
    EXPECT_EQ(route({"GET", "/v1/models", auth, ""}, ctx).status, 401) << auth;
}

TEST(RoutesHostileTest, RefusesBeforeTheBodyOnKeyPathAndMethod) {
  RouteContext ctx{&kApiKeys, {"demo"}};
  const IncomingRequest noKey{"POST", "/v1/chat/completions", "", ""};
  ASSERT_TRUE(refuseBeforeBody(noKey, ctx));
  EXPECT_EQ(refuseBeforeBody(noKey, ctx)->status, 401);
  EXPECT_FALSE(refuseBeforeBody({"POST", "/v1/chat/completions", "Bearer sk-test-123456", ""}, ctx));
  EXPECT_EQ(refuseBeforeBody({"POST", "/v2/x", "", ""}, ctx)->status, 404);
  EXPECT_EQ(refuseBeforeBody({"PUT", "/v1/chat/completions", "Bearer sk-test-123456", ""}, ctx)->status, 405);
  EXPECT_FALSE(refuseBeforeBody({"GET", "/health", "", ""}, ctx));
}

TEST(OriginGuardTest, HostMustNameThisRouterWhenThereAreNoKeys) {
  const OriginPolicy local{"127.0.0.1", 8080};
  for (const char* host : {"127.0.0.1:8080", "localhost:8080", "LOCALHOST:8080", "[::1]:8080", "localhost", ""})
    EXPECT_FALSE(refuseHostOrOrigin("GET", host, "", local)) << host;
  for (const char* host : {"evil.example:8080", "evil.example", "localhost.evil.example:8080", "10.0.0.5:8080",
                           "127.0.0.1:x", "[::1", "localhost:99999"})
    EXPECT_TRUE(refuseHostOrOrigin("GET", host, "", local)) << host;
  const OriginPolicy lan{"192.168.1.5", 8080};
  EXPECT_FALSE(refuseHostOrOrigin("GET", "192.168.1.5:8080", "", lan));
  EXPECT_TRUE(refuseHostOrOrigin("GET", "192.168.1.6:8080", "", lan));
  // Every interface: any IP literal names us; a rebinding attack needs a name.
  const OriginPolicy any{"::", 8080};
  for (const char* host : {"192.168.1.5:8080", "[fe80::1]:8080", "localhost:8080"})
    EXPECT_FALSE(refuseHostOrOrigin("GET", host, "", any)) << host;
  EXPECT_TRUE(refuseHostOrOrigin("GET", "attacker.example:8080", "", any));
}

TEST(OriginGuardTest, StateChangingRequestsNeedOurOwnOrigin) {
  const OriginPolicy p{"127.0.0.1", 8080};
  EXPECT_FALSE(refuseHostOrOrigin("POST", "127.0.0.1:8080", "", p));  // curl, SDKs: no Origin
  EXPECT_FALSE(refuseHostOrOrigin("POST", "127.0.0.1:8080", "http://127.0.0.1:8080", p));
  EXPECT_FALSE(refuseHostOrOrigin("POST", "127.0.0.1:8080", "http://localhost:8080", p));
  for (const char* origin : {"http://evil.example", "https://127.0.0.1:8080", "http://localhost:3000", "null",
                             "http://127.0.0.1"})
    EXPECT_TRUE(refuseHostOrOrigin("POST", "127.0.0.1:8080", origin, p)) << origin;
  EXPECT_FALSE(refuseHostOrOrigin("GET", "127.0.0.1:8080", "http://evil.example", p));  // not state-changing
}

TEST(OriginGuardTest, RouteAppliesItOnlyWithoutKeys) {
  const OriginPolicy p{"127.0.0.1", 8080};
  const std::string body = R"({"model":"demo","messages":[]})";
  RouteContext open{&kNoKeys, {"demo"}, &p};
  const Decision foreign = route({"POST", "/v1/chat/completions", "", body, "evil.example:8080"}, open);
  EXPECT_EQ(foreign.status, 403);
  EXPECT_EQ(codeOf(foreign), "forbidden_origin");
  EXPECT_EQ(route({"GET", "/health", "", "", "evil.example:8080"}, open).status, 403);
  EXPECT_EQ(route({"POST", "/v1/chat/completions", "", body, "127.0.0.1:8080", "http://evil.example"}, open).status,
            403);
  EXPECT_EQ(route({"POST", "/v1/chat/completions", "", body, "127.0.0.1:8080"}, open).action, Action::Forward);
  RouteContext keyed{&kApiKeys, {"demo"}, &p};
  EXPECT_EQ(route({"POST", "/v1/chat/completions", "Bearer sk-test-123456", body, "my-box.lan:8080",
                   "http://elsewhere"},
                  keyed)
                .action,
            Action::Forward);
}
