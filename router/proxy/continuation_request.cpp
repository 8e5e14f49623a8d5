#include "router/proxy/continuation_request.h"

#include <algorithm>

namespace qmesh::router {

using nlohmann::json;

std::optional<StreamKind> continuableKind(std::string_view path) {
  if (path == "/v1/chat/completions") return StreamKind::Chat;
  if (path == "/v1/completions") return StreamKind::Completion;
  return std::nullopt;
}

namespace {

bool truthy(const json& body, const char* key) {
  const auto it = body.find(key);
  if (it == body.end()) return false;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_number_integer()) return it->get<int64_t>() > 0;  // completions' logprobs is a count
  return false;
}

bool present(const json& body, const char* key) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return false;
  if (it->is_string()) return !it->get_ref<const std::string&>().empty();
  return true;
}

// A response_format that compiles to a grammar (llama.cpp: json_object and json_schema).
bool constrainedFormat(const json& body) {
  const auto it = body.find("response_format");
  if (it == body.end() || !it->is_object()) return false;
  const auto type = it->find("type");
  return type != it->end() && type->is_string() && *type != "text";
}

// max_tokens and its aliases, less what was generated; at least 1, since llama-server reads
// 0 as "no limit" in places and the next worker owes at least its finish chunk.
void shrinkBudget(json& body, const char* key, int64_t used, int64_t floor) {
  const auto it = body.find(key);
  if (it == body.end() || !it->is_number_integer()) return;
  const int64_t v = it->get<int64_t>();
  if (v < 0) return;  // -1: unlimited
  *it = std::max(floor, v - used);
}

}  // namespace

std::optional<std::string> requestRefusal(const json& body, StreamKind kind) {
  if (const auto n = body.find("n"); n != body.end() && n->is_number_integer() && n->get<int64_t>() > 1)
    return "n";
  if (truthy(body, "logprobs") || truthy(body, "n_probs") || present(body, "top_logprobs")) return "logprobs";
  if (present(body, "grammar") || present(body, "json_schema") || constrainedFormat(body)) return "grammar";
  if (kind == StreamKind::Completion) {
    const auto p = body.find("prompt");
    if (p == body.end() || !p->is_string()) return "prompt";
  }
  return std::nullopt;
}

json continuationBody(const json& body, StreamKind kind, const StreamProgress& sent) {
  json out = body;
  for (const char* key : {"max_tokens", "max_completion_tokens", "n_predict"}) shrinkBudget(out, key, sent.tokens, 1);
  for (const char* key : {"reasoning_budget_tokens", "thinking_budget_tokens"})
    shrinkBudget(out, key, sent.reasoningTokens, 0);
  if (kind == StreamKind::Completion) {
    out["prompt"] = body["prompt"].get<std::string>() + sent.content;
    return out;
  }
  json& messages = out["messages"];
  // The client may itself have asked to continue its own assistant prefix (prefill): then
  // the text sent extends that message; a second assistant message would be refused.
  const bool extendLast = !messages.empty() && messages.back().is_object() &&
                          messages.back().value("role", "") == "assistant" &&
                          (messages.back().value("content", json()).is_string() ||
                           messages.back().value("content", json()).is_null());
  if (extendLast) {
    json& last = messages.back();
    const json c = last.value("content", json());
    last["content"] = (c.is_string() ? c.get<std::string>() : "") + sent.content;
    if (!sent.reasoning.empty()) {
      const json r = last.value("reasoning_content", json());
      last["reasoning_content"] = (r.is_string() ? r.get<std::string>() : "") + sent.reasoning;
    }
  } else {
    json m = {{"role", "assistant"}, {"content", sent.content}};
    if (!sent.reasoning.empty()) m["reasoning_content"] = sent.reasoning;
    messages.push_back(std::move(m));
  }
  out["continue_final_message"] = true;
  out["add_generation_prompt"] = false;
  return out;
}

}  // namespace qmesh::router
