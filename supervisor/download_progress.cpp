#include "supervisor/download_progress.h"

#include <cmath>
#include <cstdio>

namespace qmesh {

std::string formatBytes(uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

double transferRate(const DownloadProgress& p) {
  if (p.elapsed.count() <= 0 || p.done < p.resumed_from) return 0;
  return static_cast<double>(p.done - p.resumed_from) * 1000.0 / static_cast<double>(p.elapsed.count());
}

namespace {

std::string formatEta(double seconds) {
  const auto s = static_cast<uint64_t>(std::ceil(seconds));
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  return std::to_string(s / 3600) + "h" + std::to_string(s % 3600 / 60) + "m";
}

}  // namespace

std::string formatProgress(const DownloadProgress& p) {
  const double rate = transferRate(p);
  std::string out = formatBytes(p.done);
  if (p.total > 0) {
    const uint64_t pct = p.done >= p.total ? 100 : p.done * 100 / p.total;
    out += " of " + formatBytes(p.total) + " (" + std::to_string(pct) + "%)";
  }
  out += ", " + formatBytes(static_cast<uint64_t>(rate)) + "/s";
  if (p.total > p.done && rate > 0) out += ", ETA " + formatEta(static_cast<double>(p.total - p.done) / rate);
  return out;
}

ProgressReporter::ProgressReporter(std::string model, bool terminal,
                                   std::function<void(const std::string&)> drawBar,
                                   std::function<void(const std::string&)> logLine,
                                   std::chrono::milliseconds logEvery)
    : model_(std::move(model)), terminal_(terminal), drawBar_(std::move(drawBar)),
      logLine_(std::move(logLine)), logEvery_(logEvery) {}

namespace {

std::string bar(const DownloadProgress& p) {
  constexpr int kWidth = 30;
  const int filled = p.total ? static_cast<int>(std::min<uint64_t>(p.done, p.total) * kWidth / p.total) : 0;
  return "[" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "] ";
}

}  // namespace

void ProgressReporter::update(const DownloadProgress& p) {
  if (terminal_ && p.elapsed - lastBar_ >= std::chrono::milliseconds(200)) {
    lastBar_ = p.elapsed;
    drawBar_("\r" + model_ + " " + bar(p) + formatProgress(p) + "\x1b[K");
  }
  // On a terminal the bar is the progress: a log line there would break it in two.
  if (!terminal_ && p.elapsed - lastLog_ >= logEvery_) {
    lastLog_ = p.elapsed;
    logLine_(formatProgress(p));
  }
}

void ProgressReporter::finish(const DownloadProgress& p) {
  if (terminal_) drawBar_("\r" + model_ + " " + bar(p) + formatProgress(p) + "\x1b[K\n");
  logLine_(formatProgress(p));
}

}  // namespace qmesh
