// The event-level view of a stream that may be continued on another worker (issue 12):
//
//   EventFramer   cuts the byte stream at event boundaries, holding back the tail of an
//                 unfinished event, so the client only ever has whole events: a stream cut
//                 mid-event could not be continued (the client would hold half a JSON line).
//   StreamEditor  remembers what the client was sent (StreamProgress, for the next worker's
//                 request) and rewrites a continuing worker's events so the client sees one
//                 stream: the first worker's id, created, model and system_fingerprint on
//                 every chunk, the new worker's opening role chunk dropped, and usage rebuilt
//                 (the original prompt tokens, the sum of completion tokens).
//
// Pure: no I/O, no clock. The first worker's events pass through verbatim and are parsed
// only when progress() is asked for (a continuation) or a bounded backlog fills, so a stream
// that never breaks costs a scan for boundaries, not a JSON parse per token.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router/proxy/continuation_request.h"
#include "router/proxy/sse.h"

namespace qmesh::router {

class EventFramer {
 public:
  // An event longer than this is not SSE from llama-server or a router: the stream is cut.
  static constexpr std::size_t kMaxEventBytes = 1 << 20;

  // The complete events now available (possibly none): a view into `bytes` when nothing was
  // held back, else into the framer's own buffer. Valid until the next push.
  std::string_view push(std::string_view bytes);
  bool holding() const { return !held_.empty(); }
  bool overflow() const { return held_.size() > kMaxEventBytes; }
  // Another worker's stream starts: what was held of the old one is dropped (the client
  // never saw it). The event count goes on.
  void restart();
  uint64_t events() const { return scanner_.events(); }  // complete events pushed, comments included

 private:
  // The plain relay's scanner (a line at a time): framing costs what the plain relay's
  // event count does, and a push with no unfinished event copies nothing.
  SseScanner scanner_;
  std::string held_;  // the unfinished event's bytes so far
  std::string out_;
};

// The events in `complete` (whole events, as EventFramer returns them), each with its
// terminating blank line.
std::vector<std::string_view> splitEvents(std::string_view complete);
// The event's data lines joined by '\n' ("data:" and one optional space removed); nullopt
// for an event without data (a comment such as ": keepalive").
std::optional<std::string> eventData(std::string_view event);

class StreamEditor {
 public:
  explicit StreamEditor(StreamKind kind) : kind_(kind) {}

  // Whole events of the first worker, which the client received verbatim.
  void sentVerbatim(std::string_view events);
  // The events that follow come from another worker, sent continuationBody(progress()).
  void continued();
  // Whole events of a continuing worker -> what the client gets instead (may be empty).
  std::string rewrite(std::string_view events);

  const StreamProgress& progress();
  bool sawDone() const { return sawDone_; }
  int continuations() const { return continuations_; }

 private:
  void foldBacklog();
  void record(const nlohmann::json& chunk);
  std::optional<std::string> rewriteOne(std::string_view event);

  StreamKind kind_;
  StreamProgress progress_;
  std::string backlog_;          // verbatim events not yet folded into progress_
  nlohmann::json identity_;      // the first worker's id, created, model, system_fingerprint
  bool haveIdentity_ = false;
  int64_t tokensBefore_ = 0;     // progress_.tokens when the current worker took over
  int continuations_ = 0;
  bool sawDone_ = false;
  bool roleSent_ = false;        // the client has its opening role chunk
};

}  // namespace qmesh::router
