#include "router/proxy/sse.h"

namespace qmesh::router {

namespace {
constexpr std::string_view kDone = "data: [DONE]";
}

void SseScanner::endLine() {
  if (line_ == kDone) eventIsDone_ = true;
  line_.clear();
}

void SseScanner::feed(std::string_view bytes) {
  for (char c : bytes) {
    if (c == '\n' && lastWasCr_) {  // the '\n' of "\r\n": the line already ended at '\r'
      lastWasCr_ = false;
      if (pending_ > 0) ++pending_;  // after a blank "\r\n" the event is already dispatched
      continue;
    }
    lastWasCr_ = c == '\r';
    if (c == '\n' || c == '\r') {
      if (atLineStart_) {  // a blank line dispatches the event
        if (pending_ > 0) {
          ++events_;
          if (eventIsDone_) sawDone_ = true;
        }
        pending_ = 0;
        eventIsDone_ = false;
        line_.clear();
        continue;
      }
      endLine();
      atLineStart_ = true;
      ++pending_;
      continue;
    }
    atLineStart_ = false;
    ++pending_;
    if (line_.size() <= kDone.size()) line_ += c;
  }
}

std::string sseComment(std::string_view text) { return ": " + std::string(text) + "\n\n"; }

}  // namespace qmesh::router
