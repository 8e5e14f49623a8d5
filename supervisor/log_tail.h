// The last lines a child wrote (stdout and stderr together), kept in memory so the control
// API can show them (GET /children/NAME/log, the console's log view) without anyone having
// to find the supervisor's log. A ring: at most `maxLines` lines and `maxBytes` bytes, the
// oldest dropped first, so a chatty or hostile child costs a fixed amount of memory.
// Single-threaded (the supervisor's event loop: the output pump adds, the API reads).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace qmesh {

class LogTail {
 public:
  // 200 lines is a screenful of llama-server's start-up (it prints ~150 lines while loading);
  // 64 KiB bounds it whatever the line lengths.
  explicit LogTail(std::size_t maxLines = 200, std::size_t maxBytes = 64 * 1024);

  void add(std::string_view line);
  std::vector<std::string> lines() const;  // oldest first
  uint64_t dropped() const { return dropped_; }  // lines pushed out since the start

 private:
  std::size_t maxLines_, maxBytes_;
  std::deque<std::string> lines_;
  std::size_t bytes_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace qmesh
