// The request that continues a broken stream on another worker (issue 12), as pure
// functions of the client's original body and what the client has already been sent.
//
// Chat: the original messages plus an assistant message holding the content (and reasoning)
// already sent, with `continue_final_message: true` and `add_generation_prompt: false`, which
// llama.cpp's server (oaicompat_chat_params_parse) turns into a prompt that ends inside that
// message, so the next worker picks up mid-sentence and does not echo the prefix.
// Completions: the prompt with the text already sent appended. In both, max_tokens (and any
// reasoning budget) shrinks by what was sent; every other parameter is kept as the client
// sent it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace qmesh::router {

enum class StreamKind { Chat, Completion };

// The endpoint a streamed request may be continued on, if any.
std::optional<StreamKind> continuableKind(std::string_view path);

// What the client has been sent so far in one stream (stream_edit.h builds it).
struct StreamProgress {
  std::string content;          // chat delta.content, or completion text, concatenated
  std::string reasoning;        // chat delta.reasoning_content, concatenated
  // Events that carried generated text. llama-server streams one token per event, except
  // that it holds back a partial UTF-8 character or a possible stop string and sends them
  // with the next token: this never counts more tokens than were generated.
  int64_t tokens = 0;
  int64_t reasoningTokens = 0;  // the part of `tokens` that was reasoning
  bool toolCalls = false;       // a delta with tool_calls was sent: llama.cpp cannot continue it
  bool finished = false;        // a choice's finish_reason was sent: nothing left to generate
  bool error = false;           // an error event was sent: the client's SDK has raised already
};

// Why a request can never be continued, decided from the request alone; nullopt = it can.
// The value is the metric label: "n" (n > 1), "logprobs", "grammar" (grammar, json_schema or
// a JSON response_format: the next worker's grammar would restart mid-output), "prompt" (a
// completion prompt that is not one string).
std::optional<std::string> requestRefusal(const nlohmann::json& body, StreamKind kind);

// The body for the next worker. `body` passed requestRefusal.
nlohmann::json continuationBody(const nlohmann::json& body, StreamKind kind, const StreamProgress& sent);

}  // namespace qmesh::router
