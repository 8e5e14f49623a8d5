// One Prometheus histogram for every qmesh daemon: configurable upper bounds, cumulative
// buckets, one writer of the text exposition. Bounds are in the unit of the metric's name
// (seconds for the router's *_seconds; the supervisor's *_ms series predates this class
// and keeps its unit so dashboards do not break).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qmesh {

class Histogram {
 public:
  // bounds: ascending upper bounds; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);
  // A value equal to a bound counts in that bound's bucket (Prometheus "le").
  void observe(double value);
  // Appends the _bucket/_sum/_count lines; `labels` is `a="b",c="d"` or empty.
  void render(std::string& out, const std::string& name, const std::string& labels) const;
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // one per bound, plus +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

// A number as the exposition format writes it: up to 6 significant digits, no trailing zeros.
std::string promNumber(double v);

}  // namespace qmesh
