#include "router/console/token_rates.h"

namespace qmesh::router {

void TokenRates::record(std::string_view model, int64_t tokens, std::chrono::milliseconds duration, TimePoint now) {
  while (!streams_.empty() && now - streams_.front().end >= kWindow) streams_.pop_front();
  if (tokens <= 0 || duration.count() <= 0) return;  // not a stream: no speed to tell
  streams_.push_back({now, std::string(model), tokens, duration});
  while (streams_.size() > kKept) streams_.pop_front();
}

double TokenRates::perSecond(std::string_view model, TimePoint now) const {
  int64_t tokens = 0;
  std::chrono::milliseconds busy{0};
  for (const auto& s : streams_) {
    if (now - s.end >= kWindow || s.model != model) continue;
    tokens += s.tokens;
    busy += s.duration;
  }
  return busy.count() > 0 ? static_cast<double>(tokens) * 1000.0 / static_cast<double>(busy.count()) : 0.0;
}

bool servedHere(std::string_view route, std::string_view self) {
  return route.size() > self.size() && route.substr(0, self.size()) == self && route[self.size()] == '/' &&
         route.find(" > ") == std::string_view::npos;
}

}  // namespace qmesh::router
