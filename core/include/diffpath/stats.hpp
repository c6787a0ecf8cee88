#pragma once
// Summaries of a sample of per-point values (NLLs, WKB coefficients c(x₀), W2 trials, actions).
// One home for every mean ± standard error, quantile and robust statistic of the project, so
// that the same n < 2 rule and the same quantile definition hold everywhere.
//
// Heavy tails are a finding here, not noise to hide: the WKB coefficient of a trained network
// has single points with |c| in the thousands, so every mean is reported next to its median,
// its 1 % trimmed mean and a bootstrap interval.
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

namespace diffpath {

/// Mean and standard error of the mean. n = 0: mean NaN; n = 1: se NaN (no spread to measure).
struct MeanSe {
  double mean = NAN;
  double se = NAN;
  int n = 0;
};
MeanSe mean_se(std::span<const double> v);

/// The q-quantile (q ∈ [0, 1]) by linear interpolation between order statistics
/// (Hyndman–Fan type 7, numpy's default): q = 0 is the minimum, q = 1 the maximum.
/// NaN for an empty sample. Non-finite values sort as usual (NaN is not allowed).
double quantile(std::span<const double> v, double q);
/// Several quantiles with one sort.
std::vector<double> quantiles(std::span<const double> v, std::span<const double> qs);
inline double median(std::span<const double> v) { return quantile(v, 0.5); }

/// Mean after dropping floor(fraction · n) values from each end (fraction ∈ [0, 0.5)).
double trimmed_mean(std::span<const double> v, double fraction);

/// A percentile bootstrap interval for the mean: `resamples` resamples with replacement from a
/// fixed-seed generator (deterministic), the (1 − level)/2 and (1 + level)/2 quantiles of the
/// resampled means. Both ends NaN for n < 2.
struct Interval {
  double lo = NAN;
  double hi = NAN;
};
Interval bootstrap_mean_interval(std::span<const double> v, double level = 0.95,
                                 int resamples = 2000, uint64_t seed = 0);

/// Everything reported next to a heavy-tailed mean.
struct RobustSummary {
  MeanSe mean;
  double median = NAN;
  double trimmed_mean = NAN;  // 1 % from each end
  Interval bootstrap;         // 95 % percentile interval of the mean
};
RobustSummary robust_summary(std::span<const double> v);

/// log((1/n) Σ exp(a_i)) without overflow; −inf for an empty sample or all a_i = −inf.
double log_mean_exp(std::span<const double> a);

}  // namespace diffpath
