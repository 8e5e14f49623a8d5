// Minimal Prometheus text exposition: cumulative histograms with fixed buckets, rendered by
// whoever owns the numbers. No registry: each daemon writes its own /metrics body.
#pragma once

#include <array>
#include <cstdint>
#include <sstream>
#include <string>

namespace qmesh {

// Buckets in milliseconds, fine at the low end where proxy and poll latencies live.
inline constexpr std::array<double, 14> kLatencyBucketsMs = {0.5, 1, 2, 5, 10, 25, 50, 100,
                                                              250, 500, 1000, 2500, 5000, 10000};

class LatencyHistogram {
 public:
  void observe(double ms) {
    for (size_t i = 0; i < kLatencyBucketsMs.size(); ++i)
      if (ms <= kLatencyBucketsMs[i]) ++counts_[i];
    ++count_;
    sum_ += ms;
  }
  // Writes name_bucket/_sum/_count lines; `labels` is "" or `a="b",c="d"`.
  void render(std::ostringstream& out, const std::string& name, const std::string& labels) const {
    const std::string sep = labels.empty() ? "" : ",";
    for (size_t i = 0; i < kLatencyBucketsMs.size(); ++i)
      out << name << "_bucket{" << labels << sep << "le=\"" << kLatencyBucketsMs[i] << "\"} "
          << counts_[i] << "\n";
    out << name << "_bucket{" << labels << sep << "le=\"+Inf\"} " << count_ << "\n";
    out << name << "_sum" << (labels.empty() ? "" : "{" + labels + "}") << " " << sum_ << "\n";
    out << name << "_count" << (labels.empty() ? "" : "{" + labels + "}") << " " << count_ << "\n";
  }
  uint64_t count() const { return count_; }

 private:
  std::array<uint64_t, kLatencyBucketsMs.size()> counts_{};
  uint64_t count_ = 0;
  double sum_ = 0;
};

}  // namespace qmesh
