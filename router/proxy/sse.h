// Server-sent-event framing of a byte stream passing through the proxy. The relay never
// waits for a whole event (bytes go out as they arrive); this only tracks where event
// boundaries are, so a ": keepalive" comment is injected between events and never inside
// one, and so events can be counted.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace qmesh::router {

class SseScanner {
 public:
  void feed(std::string_view bytes);

  // True when everything fed so far ends with a complete event (or nothing was fed): a
  // comment written now cannot split an event.
  bool atBoundary() const { return pending_ == 0; }
  uint64_t events() const { return events_; }  // complete events, comments included
  bool sawDone() const { return sawDone_; }    // a "data: [DONE]" event completed
  // Bytes of the unfinished event: the tail of what was fed that a cut now would leave
  // half-sent (stream_edit.h's EventFramer holds exactly these back).
  uint64_t pendingBytes() const { return pending_; }
  // Another stream follows from its start (a continuation's worker): the unfinished event
  // is forgotten; the counts go on.
  void restart();

 private:
  // Line state: the previous char ended a line ('\n' or '\r'), so another line end now
  // makes a blank line = end of event. A "\r\n" pair counts as one line end.
  bool lastWasCr_ = false;
  bool atLineStart_ = true;
  uint64_t pending_ = 0;  // bytes of the current, unfinished event
  uint64_t events_ = 0;
  bool sawDone_ = false;
  std::string line_;      // the current line, only up to a few bytes (to spot [DONE])
  bool eventIsDone_ = false;
  void endLine();
  void lineEnd();     // a '\n' or '\r' that ends a line (not the '\n' of "\r\n")
  void step(char c);  // one byte, any byte
};

// ": <text>\n\n" — a comment line that every SSE client ignores.
std::string sseComment(std::string_view text);

}  // namespace qmesh::router
