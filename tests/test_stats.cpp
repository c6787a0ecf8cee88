// stats.hpp: mean ± standard error, type-7 quantiles, trimmed mean, bootstrap interval and
// log-mean-exp against values computed by hand (numpy's defaults where numpy has one).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "diffpath/common.hpp"
#include "diffpath/rng.hpp"
#include "diffpath/stats.hpp"

using namespace diffpath;

TEST_CASE("mean_se: one rule for n < 2") {
  const std::vector<double> none;
  const MeanSe m0 = mean_se(none);
  CHECK(m0.n == 0);
  CHECK(std::isnan(m0.mean));
  CHECK(std::isnan(m0.se));

  const std::vector<double> one{7.0};
  const MeanSe m1 = mean_se(one);
  CHECK(m1.n == 1);
  CHECK(m1.mean == 7.0);
  CHECK(std::isnan(m1.se));  // no spread to measure: not 0, which would claim certainty

  const std::vector<double> two{1.0, 3.0};  // s² = 2, se = √(2/2) = 1
  const MeanSe m2 = mean_se(two);
  CHECK(m2.n == 2);
  CHECK(m2.mean == 2.0);
  CHECK(m2.se == doctest::Approx(1.0).epsilon(1e-15));

  const std::vector<double> four{1.0, 2.0, 3.0, 4.0};  // s² = 5/3, se = s/√4
  CHECK(mean_se(four).se == doctest::Approx(std::sqrt(5.0 / 3.0 / 4.0)).epsilon(1e-15));
}

TEST_CASE("quantile: Hyndman-Fan type 7 (numpy's default)") {
  // Sorted: 1 1 2 3 4 5 6 9 (n = 8), position q (n − 1) = 7q.
  const std::vector<double> v{3, 1, 4, 1, 5, 9, 2, 6};
  CHECK(quantile(v, 0.0) == 1.0);
  CHECK(quantile(v, 1.0) == 9.0);
  CHECK(quantile(v, 0.1) == doctest::Approx(1.0));    // pos 0.7 between 1 and 1
  CHECK(quantile(v, 0.25) == doctest::Approx(1.75));  // pos 1.75: 1 + 0.75 (2 − 1)
  CHECK(median(v) == doctest::Approx(3.5));           // pos 3.5: 3 + 0.5 (4 − 3)
  CHECK(quantile(v, 0.9) == doctest::Approx(6.9));    // pos 6.3: 6 + 0.3 (9 − 6)
  CHECK(quantile(v, 0.95) == doctest::Approx(7.95));  // pos 6.65: 6 + 0.65 (9 − 6)
  // q outside [0, 1] clamps; one value is every quantile; empty is NaN.
  CHECK(quantile(v, -1.0) == 1.0);
  CHECK(quantile(v, 2.0) == 9.0);
  const std::vector<double> one{4.5}, none;
  CHECK(quantile(one, 0.3) == 4.5);
  CHECK(std::isnan(quantile(none, 0.5)));

  const std::vector<double> qs{0.25, 0.5, 0.9};
  const std::vector<double> several = quantiles(v, qs);
  REQUIRE(several.size() == 3);
  for (size_t i = 0; i < qs.size(); ++i) CHECK(several[i] == quantile(v, qs[i]));

  // Infinities sort to the ends; interpolating next to one gives ±inf.
  const std::vector<double> inf{-INFINITY, 0.0, 1.0, INFINITY};
  CHECK(quantile(inf, 0.5) == doctest::Approx(0.5));
  CHECK(quantile(inf, 0.0) == -INFINITY);
  CHECK(quantile(inf, 0.9) == INFINITY);
}

TEST_CASE("trimmed_mean drops floor(fraction n) values at each end") {
  const std::vector<double> v{5, 1, 2, 3, 1000, 4, 6, 7, 8, 9};  // n = 10, one outlier
  CHECK(trimmed_mean(v, 0.0) == doctest::Approx(104.5));
  CHECK(trimmed_mean(v, 0.05) == doctest::Approx(104.5));  // floor(0.5) = 0: nothing dropped
  CHECK(trimmed_mean(v, 0.1) == doctest::Approx(5.5));     // 2..9
  CHECK(trimmed_mean(v, 0.25) == doctest::Approx(5.5));    // floor(2.5) = 2: 3..8
  const std::vector<double> none;
  CHECK(std::isnan(trimmed_mean(none, 0.1)));
  CHECK_THROWS_AS(trimmed_mean(v, 0.5), Error);
  CHECK_THROWS_AS(trimmed_mean(v, -0.1), Error);
  CHECK_THROWS_AS(trimmed_mean(v, NAN), Error);
}

namespace {
std::vector<double> normals(int n, uint64_t seed) {
  Rng rng(seed);
  std::vector<double> v(static_cast<size_t>(n));
  for (double& x : v) x = 1.0 + 2.0 * rng.normal();
  return v;
}
}  // namespace

TEST_CASE("bootstrap_mean_interval: covers the mean, width ≈ 2·1.96 se, shrinks like 1/√n") {
  double width_small = 0, width_large = 0;
  for (const int n : {100, 1600}) {
    const std::vector<double> v = normals(n, 11);
    const MeanSe m = mean_se(v);
    const Interval iv = bootstrap_mean_interval(v);
    CHECK(iv.lo < m.mean);
    CHECK(iv.hi > m.mean);
    // For a near-normal mean the percentile interval is mean ± 1.96 se (within resampling noise).
    CHECK((iv.hi - iv.lo) / (2 * 1.96 * m.se) == doctest::Approx(1.0).epsilon(0.1));
    (n == 100 ? width_small : width_large) = iv.hi - iv.lo;
  }
  // 16× the points: a quarter of the width (σ = 2 for both samples, up to sampling noise).
  CHECK(width_small / width_large == doctest::Approx(4.0).epsilon(0.15));

  // Deterministic for a seed, another seed resamples differently; a wider level is wider.
  const std::vector<double> v = normals(200, 3);
  const Interval a = bootstrap_mean_interval(v, 0.95, 500, 7), b = bootstrap_mean_interval(v, 0.95, 500, 7);
  CHECK(a.lo == b.lo);
  CHECK(a.hi == b.hi);
  const Interval c = bootstrap_mean_interval(v, 0.95, 500, 8);
  CHECK((c.lo != a.lo || c.hi != a.hi));
  const Interval narrow = bootstrap_mean_interval(v, 0.5, 500, 7);
  CHECK(narrow.lo > a.lo);
  CHECK(narrow.hi < a.hi);

  const std::vector<double> one{1.0};
  const Interval none = bootstrap_mean_interval(one);
  CHECK(std::isnan(none.lo));
  CHECK(std::isnan(none.hi));
  CHECK_THROWS_AS(bootstrap_mean_interval(v, 1.0), Error);
  CHECK_THROWS_AS(bootstrap_mean_interval(v, 0.95, 1), Error);
}

TEST_CASE("robust_summary: a heavy tail moves the mean, not the median or the trimmed mean") {
  std::vector<double> v = normals(500, 5);
  const RobustSummary clean = robust_summary(v);
  v[17] = -5000.0;  // one point like c(x₀) of a trained network
  const RobustSummary tail = robust_summary(v);
  CHECK(tail.mean.n == 500);
  CHECK(tail.mean.mean < clean.mean.mean - 9.0);
  CHECK(std::abs(tail.median - clean.median) < 0.05);
  CHECK(std::abs(tail.trimmed_mean - clean.trimmed_mean) < 0.05);
  CHECK(tail.bootstrap.lo < tail.mean.mean);
  CHECK(tail.bootstrap.hi > tail.mean.mean);
  CHECK(tail.trimmed_mean == trimmed_mean(v, 0.01));
  CHECK(tail.median == median(v));
}

TEST_CASE("log_mean_exp: no overflow, exact edge cases") {
  const std::vector<double> huge{1000.0, 1000.0 + std::log(3.0)};  // log((e¹⁰⁰⁰ + 3e¹⁰⁰⁰)/2)
  CHECK(log_mean_exp(huge) == doctest::Approx(1000.0 + std::log(2.0)).epsilon(1e-15));
  const std::vector<double> tiny{-1000.0, -1000.0};
  CHECK(log_mean_exp(tiny) == doctest::Approx(-1000.0).epsilon(1e-15));
  const std::vector<double> mixed{-1000.0, 0.0};  // log((e⁻¹⁰⁰⁰ + 1)/2) = −log 2 to round-off
  CHECK(log_mean_exp(mixed) == doctest::Approx(-std::log(2.0)).epsilon(1e-15));
  const std::vector<double> one{3.25};
  CHECK(log_mean_exp(one) == 3.25);

  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> none, all_minus_inf{-inf, -inf}, some_minus_inf{-inf, 0.0},
      plus_inf{inf, 0.0};
  CHECK(log_mean_exp(none) == -inf);
  CHECK(log_mean_exp(all_minus_inf) == -inf);
  CHECK(log_mean_exp(some_minus_inf) == doctest::Approx(-std::log(2.0)));
  CHECK(log_mean_exp(plus_inf) == inf);
}
