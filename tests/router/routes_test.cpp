#include "router/proxy/routes.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace qmesh::router;

namespace {
const std::vector<std::string> kKeys = {"sk-test-123456"};

Decision post(std::string_view path, std::string_view body, std::string_view auth = "Bearer sk-test-123456",
              const std::vector<std::string>* keys = &kKeys) {
  RouteContext ctx{keys, {"demo", "emb"}};
  return route(IncomingRequest{"POST", path, auth, body}, ctx);
}

nlohmann::json errorOf(const Decision& d) { return nlohmann::json::parse(d.body)["error"]; }
}  // namespace

TEST(Routes, ForwardsChatWithModelAndStreamFlag) {
  auto d = post("/v1/chat/completions", R"({"model":"demo","messages":[],"stream":true})");
  EXPECT_EQ(d.action, Action::Forward);
  EXPECT_EQ(d.model, "demo");
  EXPECT_TRUE(d.stream);
  auto e = post("/v1/embeddings", R"({"model":"emb","input":"hi"})");
  EXPECT_EQ(e.action, Action::Forward);
  EXPECT_FALSE(e.stream);
  EXPECT_EQ(post("/v1/completions", R"({"model":"demo","prompt":"x"})").action, Action::Forward);
}

TEST(Routes, MalformedJsonIs400InOpenAiShape) {
  auto d = post("/v1/chat/completions", "{not json");
  EXPECT_EQ(d.status, 400);
  auto e = errorOf(d);
  EXPECT_EQ(e["type"], "invalid_request_error");
  EXPECT_EQ(e["code"], "invalid_json");
  EXPECT_TRUE(e["message"].is_string());
  EXPECT_TRUE(e.contains("param"));
}

TEST(Routes, MissingModelOrMessagesIs400) {
  EXPECT_EQ(errorOf(post("/v1/chat/completions", R"({"messages":[]})"))["code"], "missing_model");
  auto d = post("/v1/chat/completions", R"({"model":"demo"})");
  EXPECT_EQ(d.status, 400);
  EXPECT_NE(errorOf(d)["message"].get<std::string>().find("messages"), std::string::npos);
  EXPECT_EQ(post("/v1/completions", R"({"model":"demo"})").status, 400);
  EXPECT_EQ(post("/v1/chat/completions", R"({"model":"demo","messages":"hi"})").status, 400);
}

TEST(Routes, UnknownModelIs404NamingTheModelsThatExist) {
  auto d = post("/v1/chat/completions", R"({"model":"gpt-4","messages":[]})");
  EXPECT_EQ(d.status, 404);
  const auto e = errorOf(d);
  EXPECT_EQ(e["code"], "model_not_found");
  EXPECT_NE(e["message"].get<std::string>().find("demo, emb"), std::string::npos);
}

TEST(Routes, MissingOrWrongKeyIs401WhenKeysAreConfigured) {
  auto missing = post("/v1/chat/completions", R"({"model":"demo","messages":[]})", "");
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(errorOf(missing)["code"], "invalid_api_key");
  EXPECT_EQ(post("/v1/chat/completions", "{}", "Bearer sk-wrong-123456").status, 401);
  EXPECT_EQ(post("/v1/chat/completions", "{}", "sk-test-123456").status, 401);
  RouteContext ctx{&kKeys, {"demo"}};
  EXPECT_EQ(route({"GET", "/v1/models", "", ""}, ctx).status, 401);
  EXPECT_EQ(route({"GET", "/v1/models", "Bearer sk-test-123456", ""}, ctx).action, Action::Models);
}

TEST(Routes, RejectsSameLengthWrongKey) {
  const std::string chat = R"({"model":"demo","messages":[]})";
  // Same length as sk-test-123456: a length check alone would let these in.
  EXPECT_EQ(post("/v1/chat/completions", chat, "Bearer Sk-test-123456").status, 401);  // first byte differs
  EXPECT_EQ(post("/v1/chat/completions", chat, "Bearer sk-test-123457").status, 401);  // last byte differs
  EXPECT_EQ(post("/v1/chat/completions", chat, "Bearer sk-test-123456").action, Action::Forward);
}

TEST(Routes, AcceptsEveryConfiguredKey) {
  const std::vector<std::string> keys = {"sk-first-key-1", "sk-second-key2", "sk-third-key-3"};
  const std::string chat = R"({"model":"demo","messages":[]})";
  for (const auto& k : keys) EXPECT_EQ(post("/v1/chat/completions", chat, "Bearer " + k, &keys).action, Action::Forward) << k;
  EXPECT_EQ(post("/v1/chat/completions", chat, "Bearer sk-test-123456", &keys).status, 401);
}

TEST(Routes, ApiPagesNeedTheKey) {
  RouteContext ctx{&kKeys, {"demo"}};
  for (const char* path : {"/api/status", "/api/mesh"}) {
    const auto missing = route({"GET", path, "", ""}, ctx);
    EXPECT_EQ(missing.status, 401) << path;
    EXPECT_EQ(errorOf(missing)["code"], "invalid_api_key") << path;
    EXPECT_EQ(route({"GET", path, "Bearer sk-test-123457", ""}, ctx).status, 401) << path;
  }
  EXPECT_EQ(route({"GET", "/api/status", "Bearer sk-test-123456", ""}, ctx).action, Action::ApiStatus);
  EXPECT_EQ(route({"GET", "/api/mesh", "Bearer sk-test-123456", ""}, ctx).action, Action::ApiMesh);
}

TEST(Routes, NoKeysMeansNoAuthentication) {
  static const std::vector<std::string> none;
  EXPECT_EQ(post("/v1/chat/completions", R"({"model":"demo","messages":[]})", "", &none).action, Action::Forward);
}

TEST(Routes, HealthAndMetricsNeedNoKey) {
  RouteContext ctx{&kKeys, {}};
  EXPECT_EQ(route({"GET", "/health", "", ""}, ctx).action, Action::Health);
  EXPECT_EQ(route({"GET", "/metrics", "", ""}, ctx).action, Action::Metrics);
  EXPECT_EQ(route({"GET", "/api/status", "Bearer sk-test-123456", ""}, ctx).action, Action::ApiStatus);
}

TEST(Routes, LivenessAndReadinessProbesNeedNoKey) {
  RouteContext ctx{&kKeys, {}};
  EXPECT_EQ(route({"GET", "/livez", "", ""}, ctx).action, Action::Livez);
  EXPECT_EQ(route({"GET", "/readyz", "", ""}, ctx).action, Action::Readyz);
}

TEST(Routes, UnknownPathIs404AndWrongMethodIs405) {
  RouteContext ctx{nullptr, {"demo"}};
  EXPECT_EQ(route({"GET", "/v2/nothing", "", ""}, ctx).status, 404);
  EXPECT_EQ(route({"GET", "/v1/chat/completions", "", ""}, ctx).status, 405);
}

TEST(Routes, RequestIdsMustBeSane) {
  EXPECT_TRUE(acceptableRequestId("abc-123"));
  EXPECT_FALSE(acceptableRequestId(""));
  EXPECT_FALSE(acceptableRequestId("a b"));
  EXPECT_FALSE(acceptableRequestId(std::string(200, 'x')));
}

TEST(Routes, AffinityKeyFollowsTheConversationPrefixNotItsLaterTurns) {
  const std::string sys = R"({"role":"system","content":"You are terse."},)";
  const std::string first = R"({"role":"user","content":"Tell me about llamas."})";
  auto turn1 = post("/v1/chat/completions", R"({"model":"demo","messages":[)" + sys + first + "]}");
  auto turn3 = post("/v1/chat/completions", R"({"model":"demo","messages":[)" + sys + first +
                                                R"(,{"role":"assistant","content":"Woolly."},)"
                                                R"({"role":"user","content":"More?"}]})");
  auto other = post("/v1/chat/completions",
                    R"({"model":"demo","messages":[)" + sys + R"({"role":"user","content":"Alpacas?"}]})");
  ASSERT_EQ(turn1.action, Action::Forward);
  EXPECT_NE(turn1.affinity, 0u);
  EXPECT_EQ(turn1.affinity, turn3.affinity);
  EXPECT_NE(turn1.affinity, other.affinity);
}

TEST(Routes, NoAffinityWithoutAPrefixToShare) {
  EXPECT_EQ(post("/v1/embeddings", R"({"model":"emb","input":"hi"})").affinity, 0u);
  EXPECT_EQ(post("/v1/chat/completions", R"({"model":"demo","messages":[]})").affinity, 0u);
  EXPECT_NE(post("/v1/completions", R"({"model":"demo","prompt":"Once upon"})").affinity, 0u);
}
