// The paper's evaluation rule (paper_protocol_filter, DESIGN §2) against a flow whose paths are
// known in closed form: for Gaussian data N(0, v I) and its exact score the PF-ODE keeps every
// point's quantile, x_t = x₀ · r(t) with r(t) = √(α_t² v + σ_t²) / √(α_min² v + σ_min²), a
// monotone factor. So a path's largest coordinate is at one end, and whether the rule drops
// a point is known exactly.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>

#include "diffpath/likelihood.hpp"
#include "diffpath/score_model.hpp"

using namespace diffpath;

namespace {

// r(Tmax) of the closed-form path for data variance v.
double end_factor(const Schedule& s, double v) {
  auto spread = [&](double t) { return std::sqrt(s.alpha(t) * s.alpha(t) * v + s.sigma2(t)); };
  return spread(s.t_max) / spread(s.t_min);
}

PaperProtocolOptions options() {
  PaperProtocolOptions o;
  o.threads = 2;
  return o;
}

}  // namespace

TEST_CASE("Paper protocol: the box test follows the closed-form paths, a batch goes whole") {
  const Schedule sch = Schedule::simple();
  // v = 1/4: paths widen by r ≈ 2, so x_T = (x₀ ± dx) r decides. Threshold on |x₀|:
  // (|x₀| + dx) r < 5.
  const double v = 0.25, r = end_factor(sch, v);
  REQUIRE(r > 1.5);
  const double threshold = 5 / r - 0.01;
  const GaussianScore model({2, 0.0, v, 0.0, 0.0}, sch);
  Points x0 = Points::Constant(2, 30, 0.1);
  for (int p = 0; p < 30; ++p) x0(p % 2, p) = 0.3 * std::sin(p);
  x0(1, 13) = -1.03 * threshold;   // batch 1 (points 10–19): the inner path x₀ − dx e₂ leaves
  x0(0, 25) = 0.97 * threshold;    // batch 2: inside, just
  const PaperProtocolFilter f = paper_protocol_filter(model, sch, x0, options());
  CHECK(f.batches == 3);
  REQUIRE(f.dropped.size() == 1);
  MESSAGE(f.dropped[0]);
  CHECK(f.dropped[0].find("batch 1 (points 10-19)") == 0);
  CHECK(f.dropped[0].find("left (-5, 5)") != std::string::npos);
  for (int p = 0; p < 30; ++p) CHECK(bool(f.kept[p]) == (p < 10 || p >= 20));
  CHECK(f.kept_points() == 20);
  const Points kept = kept_columns(x0, f.kept);
  REQUIRE(kept.cols() == 20);
  CHECK(kept.col(15) == x0.col(25));

  // Just inside the threshold from the other side: kept, whatever the batch size and threads.
  x0(1, 13) = -0.97 * threshold;
  PaperProtocolOptions o = options();
  o.batch = 7;
  o.threads = 1;
  const PaperProtocolFilter g = paper_protocol_filter(model, sch, x0, o);
  CHECK(g.batches == 5);
  CHECK(g.dropped.empty());
  CHECK(g.kept_points() == 30);
}

TEST_CASE("Paper protocol: narrowing paths are decided at x0; bad input") {
  const Schedule sch = Schedule::cosine();
  // v = 4: paths narrow (r ≈ 1/2), so the inner path x₀ + dx at Tmin decides: |x₀| + dx < 5.
  const GaussianScore model({1, 0.0, 4.0, 0.0, 0.0}, sch);
  REQUIRE(end_factor(sch, 4.0) < 0.7);
  Points x0(1, 4);
  x0 << 4.97, -1.0, 2.0, 0.5;
  PaperProtocolOptions o = options();
  o.batch = 2;
  PaperProtocolFilter f = paper_protocol_filter(model, sch, x0, o);
  CHECK(f.kept_points() == 4);
  x0(0, 0) = 4.995;  // x₀ + 0.01 starts outside
  f = paper_protocol_filter(model, sch, x0, o);
  REQUIRE(f.dropped.size() == 1);
  CHECK(f.dropped[0].find("starts outside") != std::string::npos);
  CHECK(f.kept_points() == 2);
  x0(0, 3) = NAN;
  f = paper_protocol_filter(model, sch, x0, o);
  CHECK(f.kept_points() == 0);
  CHECK(f.dropped.size() == 2);

  o.batch = 0;
  CHECK_THROWS_AS(paper_protocol_filter(model, sch, x0, o), Error);
  CHECK_THROWS_AS(paper_protocol_filter(model, sch, Points::Zero(2, 3), options()), Error);
  CHECK_THROWS_AS(kept_columns(x0, {1, 0}), Error);
}
