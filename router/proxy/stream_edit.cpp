#include "router/proxy/stream_edit.h"

#include <algorithm>

#include "router/proxy/bounded_json.h"

namespace qmesh::router {

using nlohmann::json;

namespace {

// Verbatim events are folded into the progress once this many bytes wait: a long stream
// keeps a bounded backlog, a short one is never parsed at all unless it breaks.
constexpr std::size_t kBacklogBytes = 64 * 1024;

constexpr std::string_view kDoneData = "[DONE]";

// A data line that is exactly "[DONE]" (inside JSON text a newline is escaped, so such a line
// is the real one). Found by its '[' (memchr; one per chunk), not searched for backwards.
bool hasDoneLine(std::string_view events) {
  for (auto at = events.find(kDoneData); at != std::string_view::npos; at = events.find(kDoneData, at + 1)) {
    if (at < 6 || events.substr(at - 6, 6) != "data: ") continue;
    if (at == 6 || events[at - 7] == '\n' || events[at - 7] == '\r') return true;
  }
  return false;
}

// Calls onBoundary(end, extends) at the end of each complete event in `bytes`, given the
// line state carried in: a blank line ("\n\n", "\r\n\r\n" or "\r\r") ends an event.
// `extends`: the '\n' of a "\r\n" blank line, moving the previous end one byte on.
struct LineState {
  bool lastWasCr = false;
  bool atLineStart = true;
  bool lastWasBoundary = false;
};

template <class OnBoundary>
void scanBoundaries(std::string_view bytes, LineState& s, OnBoundary onBoundary) {
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (c == '\n' && s.lastWasCr) {  // the '\n' of "\r\n": the line already ended at '\r'
      s.lastWasCr = false;
      if (s.lastWasBoundary) onBoundary(i + 1, true);  // the boundary takes its '\n' along
      continue;
    }
    s.lastWasCr = c == '\r';
    s.lastWasBoundary = false;
    if (c == '\n' || c == '\r') {
      if (s.atLineStart) {
        onBoundary(i + 1, false);
        s.lastWasBoundary = true;
      }
      s.atLineStart = true;
    } else {
      s.atLineStart = false;
    }
  }
}

const json* firstChoice(const json& chunk) {
  const auto choices = chunk.find("choices");
  if (choices == chunk.end() || !choices->is_array() || choices->empty() || !(*choices)[0].is_object()) return nullptr;
  return &(*choices)[0];
}

bool roleOnly(const json& chunk);

bool nonEmptyString(const json& o, const char* key) {
  const auto it = o.find(key);
  return it != o.end() && it->is_string() && !it->get_ref<const std::string&>().empty();
}

}  // namespace

std::string_view EventFramer::push(std::string_view bytes) {
  scanner_.feed(bytes);
  // The scanner's unfinished event is the tail of what it was fed, possibly all of `bytes`
  // and what was held before.
  const auto tail = static_cast<std::size_t>(std::min<uint64_t>(scanner_.pendingBytes(), bytes.size()));
  const std::size_t end = bytes.size() - tail;
  if (end == 0) {
    held_.append(bytes);
    return {};
  }
  if (held_.empty()) {
    held_.assign(bytes.substr(end));
    return bytes.substr(0, end);
  }
  out_ = std::move(held_);
  out_.append(bytes.substr(0, end));
  held_.assign(bytes.substr(end));
  return out_;
}

void EventFramer::restart() {
  held_.clear();
  scanner_.restart();
}

std::vector<std::string_view> splitEvents(std::string_view complete) {
  std::vector<std::string_view> out;
  LineState s;
  std::size_t start = 0, lastStart = 0;
  scanBoundaries(complete, s, [&](std::size_t at, bool extends) {
    if (extends && !out.empty()) {
      out.back() = complete.substr(lastStart, at - lastStart);
    } else {
      out.push_back(complete.substr(start, at - start));
      lastStart = start;
    }
    start = at;
  });
  if (start < complete.size()) out.push_back(complete.substr(start));
  return out;
}

std::optional<std::string> eventData(std::string_view event) {
  std::optional<std::string> data;
  while (!event.empty()) {
    std::size_t eol = event.find_first_of("\r\n");
    std::string_view line = event.substr(0, eol);
    event = eol == std::string_view::npos ? std::string_view() : event.substr(eol + 1);
    if (line.substr(0, 5) != "data:") continue;
    line.remove_prefix(5);
    if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (data) *data += '\n';
    else data.emplace();
    data->append(line);
  }
  return data;
}

void StreamEditor::sentVerbatim(std::string_view events) {
  backlog_.append(events);
  if (!sawDone_) sawDone_ = hasDoneLine(events);
  if (backlog_.size() >= kBacklogBytes) foldBacklog();
}

void StreamEditor::foldBacklog() {
  for (const auto event : splitEvents(backlog_)) {
    const auto data = eventData(event);
    if (!data || *data == kDoneData) continue;
    const BoundedJson parsed = parseBoundedJson(*data);
    if (parsed.outcome == BoundedJson::Outcome::Ok && parsed.value.is_object()) record(parsed.value);
  }
  backlog_.clear();
}

const StreamProgress& StreamEditor::progress() {
  foldBacklog();
  return progress_;
}

void StreamEditor::record(const json& chunk) {
  if (!haveIdentity_) {
    for (const char* key : {"id", "created", "model", "system_fingerprint"})
      if (const auto it = chunk.find(key); it != chunk.end()) identity_[key] = *it;
    haveIdentity_ = true;
  }
  if (chunk.contains("error")) progress_.error = true;
  if (roleOnly(chunk)) roleSent_ = true;
  const json* choice = firstChoice(chunk);
  if (!choice) return;
  if (const auto f = choice->find("finish_reason"); f != choice->end() && !f->is_null()) progress_.finished = true;
  if (kind_ == StreamKind::Completion) {
    if (nonEmptyString(*choice, "text")) {
      progress_.content += (*choice)["text"].get_ref<const std::string&>();
      ++progress_.tokens;
    }
    return;
  }
  const auto delta = choice->find("delta");
  if (delta == choice->end() || !delta->is_object()) return;
  if (const auto t = delta->find("tool_calls"); t != delta->end() && t->is_array() && !t->empty())
    progress_.toolCalls = true;
  const bool content = nonEmptyString(*delta, "content");
  const bool reasoning = nonEmptyString(*delta, "reasoning_content");
  if (content) progress_.content += (*delta)["content"].get_ref<const std::string&>();
  if (reasoning) {
    progress_.reasoning += (*delta)["reasoning_content"].get_ref<const std::string&>();
    ++progress_.reasoningTokens;
  }
  if (content || reasoning) ++progress_.tokens;
}

void StreamEditor::continued() {
  foldBacklog();
  tokensBefore_ = progress_.tokens;
  ++continuations_;
}

std::string StreamEditor::rewrite(std::string_view events) {
  std::string out;
  for (const auto event : splitEvents(events))
    if (auto e = rewriteOne(event)) out += *e;
  return out;
}

namespace {

// The opening chunk llama-server sends before any token: {"role":"assistant","content":null}.
bool roleOnly(const json& chunk) {
  const json* choice = firstChoice(chunk);
  if (!choice) return false;
  const auto delta = choice->find("delta");
  if (delta == choice->end() || !delta->is_object() || !delta->contains("role")) return false;
  if (const auto f = choice->find("finish_reason"); f != choice->end() && !f->is_null()) return false;
  for (const auto& [key, value] : delta->items())
    if (key != "role" && !value.is_null()) return false;
  return true;
}

// The continuing worker's prompt held the original prompt plus every token sent before it
// took over; its completion tokens come on top of those.
void rebuildUsage(json& usage, int64_t before) {
  const auto num = [&](const char* key) -> int64_t {
    const auto it = usage.find(key);
    return it != usage.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
  };
  const int64_t prompt = std::max<int64_t>(0, num("prompt_tokens") - before);
  const int64_t completion = num("completion_tokens") + before;
  usage["prompt_tokens"] = prompt;
  usage["completion_tokens"] = completion;
  usage["total_tokens"] = prompt + completion;
}

}  // namespace

std::optional<std::string> StreamEditor::rewriteOne(std::string_view event) {
  const auto data = eventData(event);
  if (!data) return std::string(event);  // a comment: nothing to rewrite
  if (*data == kDoneData) {
    sawDone_ = true;
    return std::string(event);
  }
  BoundedJson parsed = parseBoundedJson(*data);
  if (parsed.outcome != BoundedJson::Outcome::Ok || !parsed.value.is_object()) return std::string(event);
  json& chunk = parsed.value;
  // The client had its role chunk from the first worker (unless that one broke before it).
  if (roleSent_ && roleOnly(chunk)) return std::nullopt;
  record(chunk);
  if (chunk.contains("error")) return std::string(event);
  for (const auto& [key, value] : identity_.items()) chunk[key] = value;
  if (const auto u = chunk.find("usage"); u != chunk.end() && u->is_object()) rebuildUsage(*u, tokensBefore_);
  return "data: " + chunk.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

}  // namespace qmesh::router
