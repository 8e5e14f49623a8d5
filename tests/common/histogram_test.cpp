#include "common/histogram.h"

#include <gtest/gtest.h>

namespace qmesh {
namespace {

TEST(Histogram, ValueOnABoundCountsInThatBoundsBucket) {
  Histogram h({0.5, 1});
  h.observe(0.5);
  std::string out;
  h.render(out, "x", "");
  EXPECT_NE(out.find("x_bucket{le=\"0.5\"} 1\n"), std::string::npos) << out;
}

TEST(Histogram, RendersCumulativeBucketsSumAndCountWithLabels) {
  Histogram h({0.001, 0.25, 10});
  for (double v : {0.0005, 0.2, 0.3, 42.0}) h.observe(v);
  std::string out;
  h.render(out, "lat_seconds", "model=\"m\"");
  EXPECT_EQ(out,
            "lat_seconds_bucket{model=\"m\",le=\"0.001\"} 1\n"
            "lat_seconds_bucket{model=\"m\",le=\"0.25\"} 2\n"
            "lat_seconds_bucket{model=\"m\",le=\"10\"} 3\n"
            "lat_seconds_bucket{model=\"m\",le=\"+Inf\"} 4\n"
            "lat_seconds_sum{model=\"m\"} 42.5005\n"
            "lat_seconds_count{model=\"m\"} 4\n");
  EXPECT_EQ(h.count(), 4u);
}

TEST(Histogram, RendersWithoutLabels) {
  Histogram h({1});
  h.observe(2);
  std::string out;
  h.render(out, "x", "");
  EXPECT_EQ(out, "x_bucket{le=\"1\"} 0\nx_bucket{le=\"+Inf\"} 1\nx_sum 2\nx_count 1\n");
}

}  // namespace
}  // namespace qmesh
