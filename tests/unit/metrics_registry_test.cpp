// The typed registry: one definition per metric, handles that cannot mix types, the text format.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "metrics/registry.h"

namespace aha::metrics {
namespace {

TEST(MetricsRegistry, RendersEachTypeWithHelpTypeAndEscapedLabels) {
  Registry r;
  const Counter c = r.DefineCounter("t_requests_total", "Requests.");
  const Gauge g = r.DefineGauge("t_up", "Up.");
  const Histogram h = r.DefineHistogram("t_seconds", "Latency.", {0.5, 0.1});  // sorted
  c.Add({{"path", "a\"b\\c\nd"}});
  c.Add({{"path", "a\"b\\c\nd"}}, 2);
  g.Set(3);
  h.Observe(0.05);
  h.Observe(0.3);
  h.Observe(7);
  const std::string out = r.Render();
  EXPECT_NE(out.find("# HELP t_requests_total Requests.\n# TYPE t_requests_total counter\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("t_requests_total{path=\"a\\\"b\\\\c\\nd\"} 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("# TYPE t_up gauge\nt_up 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("# TYPE t_seconds histogram\n"), std::string::npos) << out;
  EXPECT_NE(out.find("t_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("t_seconds_bucket{le=\"0.5\"} 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("t_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("t_seconds_sum 7.35\n"), std::string::npos) << out;
  EXPECT_NE(out.find("t_seconds_count 3\n"), std::string::npos) << out;
}

TEST(MetricsRegistry, DefiningANameTwiceWithOneTypeSharesTheFamily) {
  Registry r;
  const Counter a = r.DefineCounter("t_total", "First help wins.");
  const Counter b = r.DefineCounter("t_total", "Second.");
  a.Add();
  b.Add();
  const std::string out = r.Render();
  EXPECT_NE(out.find("# HELP t_total First help wins.\n"), std::string::npos) << out;
  EXPECT_NE(out.find("t_total 2\n"), std::string::npos) << out;
}

TEST(MetricsRegistry, DefiningANameWithAnotherTypeIsRefused) {
  Registry r;
  r.DefineCounter("t_x", "A counter.");
  EXPECT_THROW(r.DefineGauge("t_x", "Now a gauge."), std::logic_error);
  EXPECT_THROW(r.DefineHistogram("t_x", "Now a histogram.", {1}), std::logic_error);
  EXPECT_EQ(r.Render(), "# HELP t_x A counter.\n# TYPE t_x counter\n");
}

TEST(MetricsRegistry, ACounterNeverGoesDown) {
  Registry r;
  const Counter c = r.DefineCounter("t_total", "h");
  c.Add({}, 5);
  c.Add({}, -2);
  c.Add({}, std::nan(""));
  c.Mirror({{"k", "v"}}, 4);
  c.Mirror({{"k", "v"}}, 3);  // a smaller total is ignored
  c.Mirror({{"k", "v"}}, std::nan(""));
  const std::string out = r.Render();
  EXPECT_NE(out.find("t_total 5\n"), std::string::npos) << out;
  EXPECT_NE(out.find("t_total{k=\"v\"} 4\n"), std::string::npos) << out;
}

TEST(MetricsRegistry, GaugeClearRemovesEverySeries) {
  Registry r;
  const Gauge g = r.DefineGauge("t_role", "h");
  g.Set({{"role", "writer"}}, 1);
  g.Clear();
  g.Set({{"role", "follower"}}, 1);
  const std::string out = r.Render();
  EXPECT_EQ(out.find("writer"), std::string::npos) << out;
  EXPECT_NE(out.find("t_role{role=\"follower\"} 1\n"), std::string::npos) << out;
}

TEST(MetricsRegistry, UnboundHandlesRecordNothing) {
  const Counter c;
  const Gauge g;
  const Histogram h;
  c.Add();
  g.Set(1);
  g.Clear();
  h.Observe(1);  // nothing to check but that it neither crashes nor needs a registry
  Registry r;
  EXPECT_EQ(r.Render(), "");
}

}  // namespace
}  // namespace aha::metrics
