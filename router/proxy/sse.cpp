#include "router/proxy/sse.h"

#include <algorithm>
#include <cstring>

namespace qmesh::router {

namespace {
constexpr std::string_view kDone = "data: [DONE]";
}

void SseScanner::endLine() {
  if (line_ == kDone) eventIsDone_ = true;
  line_.clear();
}

void SseScanner::step(char c) {
  if (c == '\n' && lastWasCr_) {  // the '\n' of "\r\n": the line already ended at '\r'
    lastWasCr_ = false;
    if (pending_ > 0) ++pending_;  // after a blank "\r\n" the event is already dispatched
    return;
  }
  lastWasCr_ = c == '\r';
  if (c == '\n' || c == '\r') return lineEnd();
  atLineStart_ = false;
  ++pending_;
  if (line_.size() <= kDone.size()) line_ += c;
}

void SseScanner::lineEnd() {
  if (atLineStart_) {  // a blank line dispatches the event
    if (pending_ > 0) {
      ++events_;
      if (eventIsDone_) sawDone_ = true;
    }
    pending_ = 0;
    eventIsDone_ = false;
    line_.clear();
    return;
  }
  endLine();
  atLineStart_ = true;
  ++pending_;
}

// Byte by byte only where a '\r' is involved; otherwise a line at a time (memchr), which
// cut the relay's instructions per 200-byte event by a sixth (bench/RESULTS.md).
void SseScanner::feed(std::string_view bytes) {
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  if (lastWasCr_ || std::memchr(p, '\r', bytes.size()) != nullptr) {
    for (; p < end; ++p) step(*p);
    return;
  }
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    const char* text = nl ? nl : end;
    if (text > p) {
      const auto n = static_cast<std::size_t>(text - p);
      atLineStart_ = false;
      pending_ += n;
      if (line_.size() <= kDone.size()) line_.append(p, std::min(n, kDone.size() + 1 - line_.size()));
    }
    if (!nl) break;
    lineEnd();
    p = nl + 1;
  }
}

void SseScanner::restart() {
  lastWasCr_ = false;
  atLineStart_ = true;
  pending_ = 0;
  line_.clear();
  eventIsDone_ = false;
}

std::string sseComment(std::string_view text) { return ": " + std::string(text) + "\n\n"; }

}  // namespace qmesh::router
