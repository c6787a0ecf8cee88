#include "diffpath/stats.hpp"

#include <algorithm>
#include <limits>

#include "diffpath/common.hpp"
#include "diffpath/rng.hpp"

namespace diffpath {

namespace {

// Type-7 quantile of an already sorted sample.
double sorted_quantile(const std::vector<double>& s, double q) {
  if (s.empty()) return NAN;
  const double pos = std::clamp(q, 0.0, 1.0) * double(s.size() - 1);
  const size_t lo = size_t(std::floor(pos));
  const size_t hi = std::min(lo + 1, s.size() - 1);
  const double w = pos - double(lo);
  return w == 0.0 ? s[lo] : s[lo] + w * (s[hi] - s[lo]);
}

std::vector<double> sorted(std::span<const double> v) {
  std::vector<double> s(v.begin(), v.end());
  std::sort(s.begin(), s.end());
  return s;
}

}  // namespace

MeanSe mean_se(std::span<const double> v) {
  MeanSe r;
  r.n = int(v.size());
  if (v.empty()) return r;
  double sum = 0;
  for (double x : v) sum += x;
  r.mean = sum / double(v.size());
  if (v.size() < 2) return r;
  double ss = 0;
  for (double x : v) ss += (x - r.mean) * (x - r.mean);
  r.se = std::sqrt(ss / double(v.size() - 1) / double(v.size()));
  return r;
}

double quantile(std::span<const double> v, double q) { return sorted_quantile(sorted(v), q); }

std::vector<double> quantiles(std::span<const double> v, std::span<const double> qs) {
  const std::vector<double> s = sorted(v);
  std::vector<double> out;
  out.reserve(qs.size());
  for (double q : qs) out.push_back(sorted_quantile(s, q));
  return out;
}

double trimmed_mean(std::span<const double> v, double fraction) {
  if (!(fraction >= 0.0 && fraction < 0.5)) throw Error("trimmed_mean: fraction must be in [0, 0.5)");
  if (v.empty()) return NAN;
  const std::vector<double> s = sorted(v);
  const size_t cut = size_t(std::floor(fraction * double(s.size())));
  double sum = 0;
  for (size_t i = cut; i < s.size() - cut; ++i) sum += s[i];
  return sum / double(s.size() - 2 * cut);
}

Interval bootstrap_mean_interval(std::span<const double> v, double level, int resamples,
                                 uint64_t seed) {
  if (!(level > 0.0 && level < 1.0)) throw Error("bootstrap: level must be in (0, 1)");
  if (resamples < 2) throw Error("bootstrap: need at least 2 resamples");
  Interval r;
  const size_t n = v.size();
  if (n < 2) return r;
  Rng rng(stream_seed(seed, 0xb007));
  std::vector<double> means(static_cast<size_t>(resamples));
  for (double& m : means) {
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += v[std::min(n - 1, size_t(rng.uniform() * double(n)))];
    m = sum / double(n);
  }
  std::sort(means.begin(), means.end());
  r.lo = sorted_quantile(means, 0.5 * (1.0 - level));
  r.hi = sorted_quantile(means, 0.5 * (1.0 + level));
  return r;
}

RobustSummary robust_summary(std::span<const double> v) {
  RobustSummary r;
  r.mean = mean_se(v);
  r.median = median(v);
  r.trimmed_mean = trimmed_mean(v, 0.01);
  r.bootstrap = bootstrap_mean_interval(v);
  return r;
}

double log_mean_exp(std::span<const double> a) {
  double mx = -std::numeric_limits<double>::infinity();
  for (double x : a) mx = std::max(mx, x);
  if (a.empty() || !std::isfinite(mx)) return mx;  // empty or all −inf: −inf; +inf: +inf
  double sum = 0;
  for (double x : a) sum += std::exp(x - mx);
  return mx + std::log(sum / double(a.size()));
}

}  // namespace diffpath
