// Issue 12's pure parts: the request that continues a broken stream on another worker
// (continuation_request.h) and the event framing and chunk rewriting that make the client
// see one stream (stream_edit.h).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "router/proxy/continuation_request.h"
#include "router/proxy/stream_edit.h"

using namespace qmesh::router;
using nlohmann::json;

namespace {

std::string chatChunk(const std::string& id, const json& delta, const json& finish = nullptr) {
  json c = {{"choices", {{{"finish_reason", finish}, {"index", 0}, {"delta", delta}}}},
            {"created", id == "first" ? 100 : 200},
            {"id", "chatcmpl-" + id},
            {"model", "demo"},
            {"system_fingerprint", "fp-" + id},
            {"object", "chat.completion.chunk"}};
  return "data: " + c.dump() + "\n\n";
}

json dataOf(const std::string& event) { return json::parse(*eventData(event)); }

}  // namespace

TEST(ContinuationRequest, ChatAppendsTheSentTextAsAnAssistantMessageToContinue) {
  const json body = {{"model", "demo"},
                     {"messages", {{{"role", "user"}, {"content", "hi"}}}},
                     {"max_tokens", 200},
                     {"temperature", 0.5},
                     {"stream", true}};
  StreamProgress sent;
  sent.content = "Once upon";
  sent.reasoning = "think";
  sent.tokens = 7;
  sent.reasoningTokens = 3;
  const json out = continuationBody(body, StreamKind::Chat, sent);
  ASSERT_EQ(out["messages"].size(), 2u);
  EXPECT_EQ(out["messages"][1], (json{{"role", "assistant"}, {"content", "Once upon"}, {"reasoning_content", "think"}}));
  EXPECT_EQ(out["continue_final_message"], true);
  EXPECT_EQ(out["add_generation_prompt"], false);
  EXPECT_EQ(out["max_tokens"], 193);
  EXPECT_EQ(out["temperature"], 0.5);
  EXPECT_EQ(out["stream"], true);
  EXPECT_EQ(out["messages"][0], body["messages"][0]);
}

TEST(ContinuationRequest, ChatExtendsAnAssistantPrefixTheClientAskedToContinue) {
  const json body = {{"messages", {{{"role", "user"}, {"content", "hi"}}, {{"role", "assistant"}, {"content", "Dear"}}}},
                     {"continue_final_message", true},
                     {"add_generation_prompt", false}};
  StreamProgress sent;
  sent.content = " Sir";
  sent.tokens = 1;
  const json out = continuationBody(body, StreamKind::Chat, sent);
  ASSERT_EQ(out["messages"].size(), 2u);
  EXPECT_EQ(out["messages"][1]["content"], "Dear Sir");
}

TEST(ContinuationRequest, CompletionAppendsTheSentTextToThePromptAndShrinksEveryBudget) {
  const json body = {{"prompt", "The sky"},
                     {"max_tokens", 10},
                     {"n_predict", 4},
                     {"reasoning_budget_tokens", 5},
                     {"thinking_budget_tokens", -1}};
  StreamProgress sent;
  sent.content = " is blue";
  sent.tokens = 6;
  sent.reasoningTokens = 2;
  const json out = continuationBody(body, StreamKind::Completion, sent);
  EXPECT_EQ(out["prompt"], "The sky is blue");
  EXPECT_EQ(out["max_tokens"], 4);
  EXPECT_EQ(out["n_predict"], 1);  // never 0: llama-server reads that as no limit in places
  EXPECT_EQ(out["reasoning_budget_tokens"], 3);
  EXPECT_EQ(out["thinking_budget_tokens"], -1);  // unlimited stays unlimited
  EXPECT_FALSE(out.contains("continue_final_message"));
}

TEST(ContinuationRequest, RefusesWhatCannotBeContinued) {
  const json chat = {{"messages", json::array()}};
  EXPECT_EQ(requestRefusal(chat, StreamKind::Chat), std::nullopt);
  EXPECT_EQ(requestRefusal(json{{"n", 2}}, StreamKind::Chat), "n");
  EXPECT_EQ(requestRefusal(json{{"n", 1}}, StreamKind::Chat), std::nullopt);
  EXPECT_EQ(requestRefusal(json{{"logprobs", true}}, StreamKind::Chat), "logprobs");
  EXPECT_EQ(requestRefusal(json{{"logprobs", false}}, StreamKind::Chat), std::nullopt);
  EXPECT_EQ(requestRefusal(json{{"prompt", "x"}, {"logprobs", 3}}, StreamKind::Completion), "logprobs");
  EXPECT_EQ(requestRefusal(json{{"n_probs", 5}}, StreamKind::Chat), "logprobs");
  EXPECT_EQ(requestRefusal(json{{"grammar", "root ::= \"a\""}}, StreamKind::Chat), "grammar");
  EXPECT_EQ(requestRefusal(json{{"json_schema", json::object()}}, StreamKind::Chat), "grammar");
  EXPECT_EQ(requestRefusal(json{{"response_format", {{"type", "json_object"}}}}, StreamKind::Chat), "grammar");
  EXPECT_EQ(requestRefusal(json{{"response_format", {{"type", "text"}}}}, StreamKind::Chat), std::nullopt);
  EXPECT_EQ(requestRefusal(json{{"prompt", {1, 2, 3}}}, StreamKind::Completion), "prompt");
  EXPECT_EQ(requestRefusal(json{{"prompt", "x"}}, StreamKind::Completion), std::nullopt);
}

TEST(EventFramer, HoldsBackAnUnfinishedEventUntilItsBlankLine) {
  EventFramer f;
  EXPECT_EQ(f.push("data: a\n\ndata: b"), "data: a\n\n");
  EXPECT_TRUE(f.holding());
  EXPECT_EQ(f.push("c\n"), "");
  EXPECT_EQ(f.push("\ndata: d\n\n"), "data: bc\n\ndata: d\n\n");
  EXPECT_FALSE(f.holding());
  EXPECT_EQ(f.events(), 3u);
}

TEST(EventFramer, TakesCrLfBlankLinesWhole) {
  EventFramer f;
  EXPECT_EQ(f.push("data: a\r\n\r"), "data: a\r\n\r");
  EXPECT_EQ(f.push("\ndata: b\r\n\r\n"), "\ndata: b\r\n\r\n");
  EXPECT_EQ(splitEvents("data: a\r\n\r\ndata: b\n\n"), (std::vector<std::string_view>{"data: a\r\n\r\n", "data: b\n\n"}));
}

TEST(EventData, JoinsDataLinesAndIgnoresComments) {
  EXPECT_EQ(eventData("data: x\ndata:y\n\n"), "x\ny");
  EXPECT_EQ(eventData(": keepalive\n\n"), std::nullopt);
}

TEST(StreamEditor, RecordsWhatTheFirstWorkerSentOnlyWhenAsked) {
  StreamEditor e(StreamKind::Chat);
  e.sentVerbatim(chatChunk("first", {{"role", "assistant"}, {"content", nullptr}}) +
                 chatChunk("first", {{"content", "Hel"}}) + chatChunk("first", {{"reasoning_content", "hm"}}));
  e.sentVerbatim(chatChunk("first", {{"content", "lo"}}));
  const StreamProgress& p = e.progress();
  EXPECT_EQ(p.content, "Hello");
  EXPECT_EQ(p.reasoning, "hm");
  EXPECT_EQ(p.tokens, 3);
  EXPECT_EQ(p.reasoningTokens, 1);
  EXPECT_FALSE(p.toolCalls);
  EXPECT_FALSE(p.finished);
  EXPECT_FALSE(e.sawDone());
}

TEST(StreamEditor, NoticesToolCallsFinishAndDone) {
  StreamEditor e(StreamKind::Chat);
  e.sentVerbatim(chatChunk("first", {{"tool_calls", {{{"index", 0}, {"function", {{"name", "f"}}}}}}}));
  EXPECT_TRUE(e.progress().toolCalls);
  e.sentVerbatim(chatChunk("first", json::object(), "stop") + "data: [DONE]\n\n");
  EXPECT_TRUE(e.progress().finished);
  EXPECT_TRUE(e.sawDone());
}

TEST(StreamEditor, RewritesTheContinuingWorkersChunksAsTheFirstWorkers) {
  StreamEditor e(StreamKind::Chat);
  e.sentVerbatim(chatChunk("first", {{"role", "assistant"}, {"content", nullptr}}) +
                 chatChunk("first", {{"content", "a"}}) + chatChunk("first", {{"content", "b"}}));
  e.continued();
  const std::string out =
      e.rewrite(chatChunk("second", {{"role", "assistant"}, {"content", nullptr}}) + chatChunk("second", {{"content", "c"}}));
  const auto events = splitEvents(out);
  ASSERT_EQ(events.size(), 1u) << out;  // the second worker's role chunk is dropped
  const json c = dataOf(std::string(events[0]));
  EXPECT_EQ(c["id"], "chatcmpl-first");
  EXPECT_EQ(c["created"], 100);
  EXPECT_EQ(c["system_fingerprint"], "fp-first");
  EXPECT_EQ(c["choices"][0]["delta"]["content"], "c");
  EXPECT_EQ(e.progress().content, "abc");
  EXPECT_EQ(e.progress().tokens, 3);
}

TEST(StreamEditor, KeepsTheNewRoleChunkWhenTheFirstWorkerSentNone) {
  StreamEditor e(StreamKind::Chat);
  e.continued();
  const std::string out = e.rewrite(chatChunk("second", {{"role", "assistant"}, {"content", nullptr}}));
  EXPECT_EQ(splitEvents(out).size(), 1u);
}

TEST(StreamEditor, RebuildsUsageFromTheOriginalPromptAndAllCompletionTokens) {
  StreamEditor e(StreamKind::Chat);
  e.sentVerbatim(chatChunk("first", {{"content", "a"}}) + chatChunk("first", {{"content", "b"}}));
  e.continued();
  // The second worker's prompt held the 2 tokens already sent.
  json u = {{"choices", json::array()},
            {"id", "chatcmpl-second"},
            {"usage", {{"prompt_tokens", 31}, {"completion_tokens", 5}, {"total_tokens", 36}}}};
  const std::string out = e.rewrite("data: " + u.dump() + "\n\ndata: [DONE]\n\n");
  const auto events = splitEvents(out);
  ASSERT_EQ(events.size(), 2u);
  const json c = dataOf(std::string(events[0]));
  EXPECT_EQ(c["usage"]["prompt_tokens"], 29);
  EXPECT_EQ(c["usage"]["completion_tokens"], 7);
  EXPECT_EQ(c["usage"]["total_tokens"], 36);
  EXPECT_EQ(c["id"], "chatcmpl-first");
  EXPECT_EQ(events[1], "data: [DONE]\n\n");
  EXPECT_TRUE(e.sawDone());
}

TEST(StreamEditor, CountsCompletionTextAsTokens) {
  StreamEditor e(StreamKind::Completion);
  json c = {{"choices", {{{"text", " blue"}, {"index", 0}, {"finish_reason", nullptr}}}}, {"id", "cmpl-1"}};
  e.sentVerbatim("data: " + c.dump() + "\n\n");
  EXPECT_EQ(e.progress().content, " blue");
  EXPECT_EQ(e.progress().tokens, 1);
}

TEST(StreamEditor, PassesAContinuingWorkersErrorEventUnchanged) {
  StreamEditor e(StreamKind::Chat);
  e.continued();
  const std::string err = "data: {\"error\":{\"message\":\"boom\"}}\n\n";
  EXPECT_EQ(e.rewrite(err), err);
  EXPECT_TRUE(e.progress().error);
}
