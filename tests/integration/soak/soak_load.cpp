#include "tests/integration/soak/soak_load.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <random>

namespace qmesh::test::soak {

using nlohmann::json;

const char* toString(Outcome o) {
  switch (o) {
    case Outcome::Completed: return "completed";
    case Outcome::HttpError: return "http-error";
    case Outcome::InBandError: return "in-band-error";
    case Outcome::CutByRouterKill: return "cut-by-router-kill";
    case Outcome::Hung: return "hung";
    case Outcome::Lost: return "lost";
  }
  return "?";
}

namespace {

bool openAiError(const json& j) {
  return j.is_object() && j.contains("error") && j["error"].is_object() && j["error"].contains("message") &&
         j["error"]["message"].is_string();
}

struct Events {
  bool done = false, error = false, dataAfterDone = false;
};

// SSE events of a body (blank-line separated, "\n\n" or "\r\n\r\n"): [DONE], error events.
Events scanEvents(const std::string& body) {
  Events e;
  std::size_t pos = 0;
  while (pos < body.size()) {
    auto nl = body.find('\n', pos);
    if (nl == std::string::npos) break;  // an unterminated last line is not an event
    std::string line = body.substr(pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("data:", 0) != 0) continue;
    std::string data = line.substr(5);
    if (!data.empty() && data[0] == ' ') data.erase(0, 1);
    if (data == "[DONE]") {
      e.done = true;
      continue;
    }
    if (e.done) e.dataAfterDone = true;
    if (openAiError(json::parse(data, nullptr, false))) e.error = true;
  }
  return e;
}

}  // namespace

Classified classify(const HttpResponse& res, bool entryRouterDown) {
  const bool timedOut = res.error == "Timeout was reached";
  if (timedOut) return {Outcome::Hung, "no end within the client deadline (status " + std::to_string(res.status) + ")"};
  if (res.status == 0)
    return entryRouterDown ? Classified{Outcome::CutByRouterKill, ""}
                           : Classified{Outcome::Lost, "no HTTP response: " + res.error};
  if (res.status >= 400) {
    if (openAiError(json::parse(res.body, nullptr, false))) return {Outcome::HttpError, ""};
    return {Outcome::Lost, "status " + std::to_string(res.status) + " without an OpenAI error body: " + res.body.substr(0, 200)};
  }
  if (res.status != 200) return {Outcome::Lost, "unexpected status " + std::to_string(res.status)};
  const auto ct = res.headers.find("content-type");
  if (ct == res.headers.end() || ct->second.rfind("text/event-stream", 0) != 0)
    return {Outcome::Lost, "200 without an event stream: " + res.body.substr(0, 200)};
  const Events e = scanEvents(res.body);
  if (e.error) return {Outcome::InBandError, ""};
  if (e.done && !e.dataAfterDone && res.error.empty()) return {Outcome::Completed, ""};
  if (!res.error.empty() && entryRouterDown) return {Outcome::CutByRouterKill, ""};
  const std::string tail = res.body.size() > 160 ? res.body.substr(res.body.size() - 160) : res.body;
  return {Outcome::Lost, std::string(e.done ? "[DONE] then " : "no [DONE], no error event, ") +
                             (res.error.empty() ? "the stream ended cleanly" : "the stream broke: " + res.error) +
                             "; last bytes: " + json(tail).dump(-1, ' ', false, json::error_handler_t::replace)};
}

Load::Load(LoadOptions options, RouterDown routerDown) : o_(std::move(options)), routerDown_(std::move(routerDown)) {}

Load::~Load() { stop(); }

void Load::start() {
  stop_ = false;
  t0_ = Clock::now();
  for (int i = 0; i < o_.clients; ++i) threads_.emplace_back([this, i] { client(i); });
}

void Load::stop() {
  stop_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void Load::client(int index) {
  std::mt19937_64 rng(o_.seed * 1000003 + static_cast<uint64_t>(index));
  const char* words[] = {"tell", "me", "about", "the", "mesh", "stream", "tokens", "quickly", "story", "seven"};
  for (uint64_t n = 0; !stop_; ++n) {
    const int entry = static_cast<int>(rng() % o_.routers.size());
    const std::string model = o_.models[rng() % o_.models.size()];
    std::string text;
    for (int w = 0; w < 3 + static_cast<int>(rng() % 6); ++w) text += std::string(w ? " " : "") + words[rng() % 10];
    const std::string body = json{{"model", model},
                                  {"messages", {{{"role", "user"}, {"content", text}}}},
                                  {"max_tokens", 8 + static_cast<int>(rng() % 57)},
                                  {"stream", true}}
                                 .dump();
    const std::string id = o_.idPrefix + "-" + std::to_string(index) + "-" + std::to_string(n);
    ++active_;
    const auto start = Clock::now();
    auto res = httpPostStream(o_.routers[entry] + "/v1/chat/completions", body, [](const std::string&) { return true; },
                              {{"x-request-id", id}}, o_.deadline);
    const auto end = Clock::now();
    --active_;
    const auto c = classify(res, routerDown_(entry, start, end));
    std::string line;
    if (c.outcome == Outcome::Hung || c.outcome == Outcome::Lost) {
      char head[160];
      std::snprintf(head, sizeof head, "%s req=%s entry=n%d model=%s at %.2fs..%.2fs: ", toString(c.outcome), id.c_str(),
                    entry + 1, model.c_str(), std::chrono::duration<double>(start - t0_).count(),
                    std::chrono::duration<double>(end - t0_).count());
      line = head + c.detail;
    }
    record(c.outcome, res.status, line);
  }
}

void Load::record(Outcome o, long status, const std::string& line) {
  std::lock_guard lock(mu_);
  ++counts_[static_cast<int>(o)];
  if (o == Outcome::HttpError) ++statuses_[status];
  if (line.empty()) return;
  violations_.push_back(line);
  std::cout << "[ soak ] VIOLATION " << line << std::endl;  // as it happens, for the long run's log
}

std::vector<uint64_t> Load::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

uint64_t Load::requests() const {
  uint64_t n = 0;
  for (auto c : counts()) n += c;
  return n;
}

std::vector<std::string> Load::violations() const {
  std::lock_guard lock(mu_);
  return violations_;
}

}  // namespace qmesh::test::soak

namespace qmesh::test::soak {

std::string Load::statuses() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [status, n] : statuses_) out += (out.empty() ? "" : ", ") + std::to_string(status) + " x" + std::to_string(n);
  return out.empty() ? "none" : out;
}

}  // namespace qmesh::test::soak
