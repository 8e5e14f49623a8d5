// The router in front of the REAL llama-server and demo model (static mode): streamed and
// non-streamed chat and completions, embeddings, /v1/models, a client hanging up frees the
// llama-server slot, and a killed idle worker is routed around.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>

#include "tests/router/llama_fixture.h"
#include "tests/support/http_client.h"

using namespace qmesh::test;
using namespace std::chrono;
using nlohmann::json;

namespace {

#define REQUIRE_LLAMA()                                                                          \
  if (!haveRealLlamaServer()) GTEST_SKIP() << "llama-server or the demo model is not built yet " \
                                              "(scripts/setup.sh builds them)"

std::vector<json> dataEvents(const std::string& body) {
  std::vector<json> out;
  for (std::size_t p = 0; (p = body.find("data: ", p)) != std::string::npos;) {
    const auto end = body.find("\n\n", p);
    const std::string payload = body.substr(p + 6, end - p - 6);
    if (payload != "[DONE]") out.push_back(json::parse(payload));
    p = end;
  }
  return out;
}

int busySlots(const LlamaServer& s) {
  auto slots = json::parse(httpGet(s.url() + "/slots").body, nullptr, false);
  int busy = 0;
  if (slots.is_array())
    for (const auto& slot : slots) busy += slot.value("is_processing", false) ? 1 : 0;
  return busy;
}

}  // namespace

TEST(RouterLlama, StreamsChatEventByEventWithUsageChunkRightBeforeDone) {
  REQUIRE_LLAMA();
  TempDir dir;
  auto llama = startLlama(dir, "demo", 2, 1024);
  auto router = startRouter(dir, {"demo=" + llama.url() + ",slots=2"});
  int arrivals = 0;
  auto res = httpPostStream(router.url("/v1/chat/completions"),
                            R"({"model":"demo","messages":[{"role":"user","content":"hello"}],"stream":true,)"
                            R"("max_tokens":24,"stream_options":{"include_usage":true}})",
                            [&](const std::string&) { return ++arrivals > 0; });
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.headers["content-type"], "text/event-stream");
  EXPECT_EQ(res.headers["cache-control"], "no-cache");
  EXPECT_NE(res.headers["x-qmesh-route"].find("itest/demo@127.0.0.1"), std::string::npos);
  const auto events = dataEvents(res.body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_GT(arrivals, 3);  // not one buffered blob
  const std::string tail = "data: [DONE]\n\n";
  ASSERT_EQ(res.body.substr(res.body.size() - tail.size()), tail);
  const json& usage = events.back();
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_GT(usage["usage"]["completion_tokens"].get<int>(), 0);
  EXPECT_TRUE(usage.contains("timings"));
}

TEST(RouterLlama, NonStreamedChatAndCompletionPassThrough) {
  REQUIRE_LLAMA();
  TempDir dir;
  auto llama = startLlama(dir, "demo", 2, 1024);
  auto router = startRouter(dir, {"demo=" + llama.url() + ",slots=2"});
  auto chat = httpPostJson(router.url("/v1/chat/completions"),
                           R"({"model":"demo","messages":[{"role":"user","content":"hi"}],"max_tokens":8})");
  ASSERT_EQ(chat.status, 200) << chat.body;
  EXPECT_EQ(chat.headers["content-type"], "application/json; charset=utf-8");
  auto cj = json::parse(chat.body);
  EXPECT_EQ(cj["object"], "chat.completion");
  EXPECT_TRUE(cj["choices"][0]["message"]["content"].is_string());
  auto comp = httpPostJson(router.url("/v1/completions"), R"({"model":"demo","prompt":"Once","max_tokens":8})");
  ASSERT_EQ(comp.status, 200) << comp.body;
  EXPECT_EQ(json::parse(comp.body)["object"], "text_completion");
  auto streamed = httpPostJson(router.url("/v1/completions"),
                               R"({"model":"demo","prompt":"Once","max_tokens":8,"stream":true})");
  ASSERT_EQ(streamed.status, 200);
  EXPECT_GE(dataEvents(streamed.body).size(), 2u);
}

TEST(RouterLlama, EmbeddingsReachAnEmbeddingsWorkerAndModelsListsBoth) {
  REQUIRE_LLAMA();
  TempDir dir;
  auto chat = startLlama(dir, "demo", 1, 512);
  // The demo GGUF has no pooling type; /v1/embeddings needs one (llama-server answers 400).
  auto emb = startLlama(dir, "demo-embed", 1, 512, {"--embeddings", "--pooling", "mean"});
  auto router = startRouter(dir, {"demo=" + chat.url() + ",slots=1", "demo-embed=" + emb.url() + ",slots=1"});
  auto res = httpPostJson(router.url("/v1/embeddings"), R"({"model":"demo-embed","input":"hello world"})");
  ASSERT_EQ(res.status, 200) << res.body;
  auto j = json::parse(res.body);
  EXPECT_GT(j["data"][0]["embedding"].size(), 8u);
  auto models = json::parse(httpGet(router.url("/v1/models")).body);
  ASSERT_EQ(models["data"].size(), 2u);
  EXPECT_EQ(models["data"][0]["id"], "demo");
  EXPECT_EQ(models["data"][1]["id"], "demo-embed");
}

TEST(RouterLlama, ClientHangingUpMidStreamFreesTheLlamaSlot) {
  REQUIRE_LLAMA();
  TempDir dir;
  auto llama = startLlama(dir, "demo", 1, 16384);
  auto router = startRouter(dir, {"demo=" + llama.url() + ",slots=1"});
  // ~16k tokens would take the demo model ~10 s: only a freed slot ends it sooner.
  int events = 0;
  httpPostStream(router.url("/v1/chat/completions"),
                 R"({"model":"demo","messages":[{"role":"user","content":"go"}],"stream":true,"max_tokens":16000})",
                 [&](const std::string& chunk) { return (events += chunk.find("data:") != std::string::npos) < 5; });
  const auto hungUp = steady_clock::now();
  ASSERT_TRUE(waitUntil([&] { return busySlots(llama) == 0; }, seconds(3), milliseconds(20)))
      << "llama-server still generating for a client that left";
  EXPECT_LT(duration_cast<milliseconds>(steady_clock::now() - hungUp).count(), 2500);
  // And the router's slot is free too: the next request is served at once.
  EXPECT_EQ(httpPostJson(router.url("/v1/completions"), R"({"model":"demo","prompt":"a","max_tokens":2})").status, 200);
}

TEST(RouterLlama, KilledIdleWorkerIsRoutedAround) {
  REQUIRE_LLAMA();
  TempDir dir;
  auto a = startLlama(dir, "demo", 1, 512);
  auto b = startLlama(dir, "demo", 1, 512);
  auto router = startRouter(dir, {"demo=" + a.url() + ",slots=1", "demo=" + b.url() + ",slots=1"});
  a.proc->signal(SIGKILL);
  a.proc->waitExit(seconds(5));
  // Prefix affinity sends one prompt to one worker every time, so vary the prompt until one
  // is tried on the killed worker first (an even chance each; 64 misses are 2^-64 likely).
  // The router has not heard of the death: only the refused connect and the retry save it.
  const std::string retryOnA = "; retry after connect on demo@127.0.0.1:" + std::to_string(a.port) + ")";
  bool sawRetry = false;
  for (int i = 0; i < 64 && !sawRetry; ++i) {
    auto res = httpPostJson(router.url("/v1/completions"),
                            json{{"model", "demo"}, {"prompt", "a " + std::to_string(i)}, {"max_tokens", 2}}.dump());
    ASSERT_EQ(res.status, 200) << res.body;
    const std::string route = res.headers["x-qmesh-route"];
    EXPECT_EQ(route.rfind("itest/demo@127.0.0.1:" + std::to_string(b.port) + " (", 0), 0u) << route;
    sawRetry = route.find(retryOnA) != std::string::npos;
  }
  EXPECT_TRUE(sawRetry) << "no prompt was ever tried on the killed worker first";
}

TEST(RouterLlama, ErrorsAreOpenAiShapedThroughTheBinary) {
  REQUIRE_LLAMA();
  TempDir dir;
  auto llama = startLlama(dir, "demo", 1, 512);
  auto router = startRouter(dir, {"demo=" + llama.url() + ",slots=1"}, {"--api-key", "sk-itest-0001"});
  const std::map<std::string, std::string> auth = {{"authorization", "Bearer sk-itest-0001"}};
  auto code = [](const HttpResponse& r) { return json::parse(r.body)["error"]["code"].get<std::string>(); };
  auto noKey = httpPostJson(router.url("/v1/chat/completions"), R"({"model":"demo","messages":[]})");
  EXPECT_EQ(noKey.status, 401);
  EXPECT_EQ(code(noKey), "invalid_api_key");
  auto unknown = httpPostJson(router.url("/v1/chat/completions"), R"({"model":"gpt-4o","messages":[]})", auth);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(json::parse(unknown.body)["error"]["message"].get<std::string>().find("demo"), std::string::npos);
  EXPECT_EQ(httpPostJson(router.url("/v1/chat/completions"), "[1,", auth).status, 400);
  EXPECT_EQ(httpPostJson(router.url("/v1/chat/completions"), R"({"model":"demo"})", auth).status, 400);
  const std::string huge = R"({"model":"demo","prompt":")" + std::string(9 << 20, 'x') + "\"}";
  EXPECT_EQ(httpPostJson(router.url("/v1/completions"), huge, auth).status, 413);
}

TEST(RouterLlama, StopsCleanlyOnSigterm) {
  REQUIRE_LLAMA();
  TempDir dir;
  auto llama = startLlama(dir, "demo", 1, 512);
  auto router = startRouter(dir, {"demo=" + llama.url()});
  router.proc->signal(SIGTERM);
  ASSERT_TRUE(router.proc->waitExit(seconds(5)));
  EXPECT_EQ(router.proc->exitCode(), 0);
}

TEST(RouterLlama, ListenAddressInUseIsExitCode4AndUsageErrorsAre2) {
  TempDir dir;
  auto first = startRouter(dir, {"demo=http://127.0.0.1:9"});
  auto r = runCommand({routerBinary().string(), "--listen", "127.0.0.1:" + std::to_string(first.port), "--worker",
                       "demo=http://127.0.0.1:9"},
                      seconds(10));
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("router.listen 127.0.0.1:" + std::to_string(first.port) + " is already in use"),
            std::string::npos)
      << r.output;
  auto bad = runCommand({routerBinary().string(), "--worker", "nonsense"}, seconds(10));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("MODEL=http://HOST:PORT"), std::string::npos) << bad.output;
  EXPECT_EQ(runCommand({routerBinary().string(), "--version"}, seconds(10)).output, "qmesh-router 0.1.0\n");
}
