// How a model download reports its progress: a bar redrawn in place on a terminal, and a
// line in the log every few seconds (bytes, rate, ETA) for operators reading journald.
// Pure formatting and throttling: the caller passes the time, so tests need no clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace qmesh {

struct DownloadProgress {
  uint64_t done = 0;             // bytes on disk, a resumed prefix included
  uint64_t total = 0;            // 0 while the server has not said (no Content-Length)
  uint64_t resumed_from = 0;     // bytes that were already on disk when this transfer began
  std::chrono::milliseconds elapsed{0};  // since this transfer began
};

// "1.5 GiB", "512.0 KiB", "17 B".
std::string formatBytes(uint64_t bytes);
// Bytes of this transfer per second (the resumed prefix does not count).
double transferRate(const DownloadProgress& p);
// "12.0 MiB of 100.0 MiB (12%), 5.2 MiB/s, ETA 17s"; without a total: "12.0 MiB, 5.2 MiB/s".
std::string formatProgress(const DownloadProgress& p);

// Decides when to draw: on a terminal, the bar at most every 200 ms (faster flickers and
// costs a syscall per chunk); elsewhere (a service's log) a line every `logEvery` (a line
// per second would flood a log for a 40 GB model; 5 s keeps a stall visible). The final
// state is logged either way.
class ProgressReporter {
 public:
  ProgressReporter(std::string model, bool terminal,
                   std::function<void(const std::string&)> drawBar,
                   std::function<void(const std::string&)> logLine,
                   std::chrono::milliseconds logEvery = std::chrono::seconds(5));
  void update(const DownloadProgress& p);
  // The last state, always logged (and the bar finished with a newline).
  void finish(const DownloadProgress& p);

 private:
  std::string model_;
  bool terminal_;
  std::function<void(const std::string&)> drawBar_, logLine_;
  std::chrono::milliseconds logEvery_;
  std::chrono::milliseconds lastBar_{-1000000}, lastLog_{0};
};

}  // namespace qmesh
