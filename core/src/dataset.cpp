// Data sets (dataset.hpp, DESIGN §2). Point i of every synthetic set is drawn from its own
// random stream stream_seed(seed, i, kDataStream), so a data set is reproducible for a seed,
// and the first n points do not depend on how many are drawn in total.
#include "diffpath/dataset.hpp"

#include <cmath>
#include <cstdio>
#include <functional>
#include <numbers>

#include "diffpath/io.hpp"
#include "diffpath/rng.hpp"

namespace diffpath {
namespace {

constexpr double kPi = std::numbers::pi;
constexpr uint64_t kDataStream = 0x64617461;     // "data": keeps data draws apart from
constexpr uint64_t kMixtureStream = 0x6d697874;  // "mixt"  sampler streams of the same seed

// ---------------------------------------------------------------- the synthetic 2D sets

// Swiss roll (DESIGN §2): τ = 1.5π(1 + 2u), (τ cos τ, τ sin τ) + N(0, 0.5²), all / 6.865.
Vec swissroll_point(Rng& rng) {
  const double tau = 1.5 * kPi * (1.0 + 2.0 * rng.uniform());
  const double x = tau * std::cos(tau) + 0.5 * rng.normal();
  const double y = tau * std::sin(tau) + 0.5 * rng.normal();
  return Eigen::Vector2d(x, y) / 6.865;
}

// Two interleaved half circles as in sklearn's make_moons (outer (cos θ, sin θ), inner
// (1 − cos θ, 1/2 − sin θ), θ ~ U(0, π), Gaussian noise 0.1), then centred and scaled.
// Raw moments (θ uniform, each moon with probability 1/2):
//   mean  = (1/2, 1/4)
//   var x = E[x²] − 1/4 = (1/2 + 3/2)/2 − 1/4 + 0.1²              = 0.76
//   var y = (1/2 + 3/4 − 2/π)/2 − 1/16 + 0.1² = 0.5725 − 1/π      ≈ 0.254169
// One common scale keeps the shape: divide by sqrt((var x + var y)/2) ≈ 0.712144, so the
// average per-coordinate variance is 1 (x: ≈ 1.499, y: ≈ 0.501).
constexpr double kMoonsMeanX = 0.5, kMoonsMeanY = 0.25;
const double kMoonsScale = std::sqrt(0.5 * (0.76 + 0.5725 - 1.0 / kPi));

Vec moons_point(Rng& rng) {
  const double theta = kPi * rng.uniform();
  const bool inner = rng.uniform() < 0.5;
  double x = inner ? 1.0 - std::cos(theta) : std::cos(theta);
  double y = inner ? 0.5 - std::sin(theta) : std::sin(theta);
  x += 0.1 * rng.normal();
  y += 0.1 * rng.normal();
  return Eigen::Vector2d(x - kMoonsMeanX, y - kMoonsMeanY) / kMoonsScale;
}

// FFJORD's "rings": circles of radius 3, 2.25, 1.5, 0.75 (= 3 · {1, 3/4, 1/2, 1/4}), equally
// likely, uniform angle, Gaussian noise 0.08 per coordinate. Not rescaled (FFJORD's units).
Vec rings_point(Rng& rng) {
  const double radius = 0.75 * double(1 + int(4.0 * rng.uniform()));
  const double angle = 2.0 * kPi * rng.uniform();
  return Eigen::Vector2d(radius * std::cos(angle) + 0.08 * rng.normal(),
                         radius * std::sin(angle) + 0.08 * rng.normal());
}

// FFJORD's "checkerboard": x1 ~ U(−2, 2), x2 in [0, 1) or [−2, −1) shifted up by
// floor(x1) mod 2, all × 2 — eight unit squares of a 4 × 4 board on [−4, 4]².
Vec checkerboard_point(Rng& rng) {
  const double x1 = 4.0 * rng.uniform() - 2.0;
  const double x2 = rng.uniform() - (rng.uniform() < 0.5 ? 2.0 : 0.0);
  const double shift = std::floor(x1) - 2.0 * std::floor(0.5 * std::floor(x1));  // floor(x1) mod 2
  return Eigen::Vector2d(2.0 * x1, 2.0 * (x2 + shift));
}

Points draw_points(int d, int n, uint64_t seed, const std::function<Vec(Rng&)>& point) {
  Points p(d, n);
  for (int i = 0; i < n; ++i) {
    Rng rng(stream_seed(seed, uint64_t(i), kDataStream));
    p.col(i) = point(rng);
  }
  return p;
}

// ---------------------------------------------------------------- the mixture sets

// 25 Gaussians (DESIGN §2): centres (2i, 2j), i, j ∈ {−2..2}, noise 0.05, all / 2.828.
GaussianMixture mixture_25gaussians() {
  constexpr double scale = 2.828;
  GaussianMixture g;
  g.weights = Vec::Constant(25, 1.0 / 25.0);
  g.means.resize(2, 25);
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 5; ++j) g.means.col(5 * i + j) << 2.0 * (i - 2) / scale, 2.0 * (j - 2) / scale;
  g.variances = Vec::Constant(25, std::pow(0.05 / scale, 2));
  return g;
}

// 8 Gaussians (FFJORD): centres 4 (cos kπ/4, sin kπ/4), noise 0.5, all / 1.414.
GaussianMixture mixture_8gaussians() {
  constexpr double scale = 1.414;
  GaussianMixture g;
  g.weights = Vec::Constant(8, 1.0 / 8.0);
  g.means.resize(2, 8);
  for (int k = 0; k < 8; ++k)
    g.means.col(k) << 4.0 * std::cos(k * kPi / 4) / scale, 4.0 * std::sin(k * kPi / 4) / scale;
  g.variances = Vec::Constant(8, std::pow(0.5 / scale, 2));
  return g;
}

// gaussian1d:m=M,v=V (d = 1) and gaussian:d=D,m=M,v=V: one component N(m·1, v I).
GaussianMixture mixture_gaussian(const Spec& spec, bool one_d) {
  if (one_d) spec.expect_keys({"m", "v"});
  else spec.expect_keys({"d", "m", "v"});
  const double d_value = one_d ? 1.0 : spec.number("d", 2.0);
  if (d_value < 1 || d_value > 1000 || d_value != std::floor(d_value))
    throw Error("data set '" + spec.name + "': d must be an integer in [1, 1000]");
  const double m = spec.number("m", 0.0), v = spec.number("v", 1.0);
  if (!(v > 0)) throw Error("data set '" + spec.name + "': variance v must be > 0");
  GaussianMixture g;
  g.weights = Vec::Ones(1);
  g.means = Points::Constant(int(d_value), 1, m);
  g.variances = Vec::Constant(1, v);
  return g;
}

std::string valid_names() {
  return "swissroll, 25gaussians, 8gaussians, moons, rings, checkerboard, "
         "gaussian1d:m=M,v=V, gaussian:d=D,m=M,v=V, csv:PATH";
}

void expect_no_args(const Spec& spec) {
  if (!spec.rest.empty())
    throw Error("data set '" + spec.name + "' takes no arguments (got '" + spec.rest + "')");
}

Points read_dataset_csv(const Spec& spec) {
  if (spec.rest.empty()) throw Error("data set 'csv' needs a path: csv:PATH");
  Points p = read_points_csv(spec.rest);
  if (p.rows() > 2)
    throw Error("CSV data set '" + spec.rest + "' has " + std::to_string(p.rows()) +
                " columns; expected 2 (x,y) or 1 (x)");
  check_data_points(p, "CSV data set '" + spec.rest + "'");
  return p;
}

}  // namespace

void check_data_points(const Points& points, const std::string& source) {
  if (points.size() == 0) throw Error(source + ": no data points");
  for (Eigen::Index i = 0; i < points.cols(); ++i)
    for (Eigen::Index j = 0; j < points.rows(); ++j) {
      const double v = points(j, i);
      if (std::isfinite(v) && std::abs(v) <= kMaxDataMagnitude) continue;
      char value[32];
      std::snprintf(value, sizeof value, "%.3g", v);
      throw Error(source + ": point " + std::to_string(i + 1) + " has coordinate " + value +
                  ", beyond ±1e6; diffusion models need data of order one (rescale it)");
    }
}

// ---------------------------------------------------------------- GaussianMixture

Points GaussianMixture::sample(int n, uint64_t seed) const {
  if (n < 0) throw Error("mixture sample: n must be >= 0");
  if (size() == 0) throw Error("mixture sample: the mixture has no components");
  // Cumulative weights, normalised so rounding never leaves the last component unreachable.
  Vec cumulative(size());
  double total = 0.0;
  for (int k = 0; k < size(); ++k) cumulative(k) = total += weights(k);
  cumulative /= total;
  const int d = dim();
  Points p(d, n);
  for (int i = 0; i < n; ++i) {
    Rng rng(stream_seed(seed, uint64_t(i), kMixtureStream));
    const double u = rng.uniform();
    int k = 0;
    while (k + 1 < size() && cumulative(k) <= u) ++k;
    const double sd = std::sqrt(variances(k));
    for (int j = 0; j < d; ++j) p(j, i) = means(j, k) + sd * rng.normal();
  }
  return p;
}

GaussianMixture GaussianMixture::diffused(double alpha, double sigma2) const {
  GaussianMixture g;
  g.weights = weights;
  g.means = alpha * means;
  g.variances = (alpha * alpha) * variances.array() + sigma2;
  return g;
}

GaussianMixture GaussianMixture::empirical(const Points& points) {
  if (points.cols() == 0 || points.rows() == 0)
    throw Error("empirical distribution of an empty point set");
  GaussianMixture g;
  g.weights = Vec::Constant(points.cols(), 1.0 / double(points.cols()));
  g.means = points;
  g.variances = Vec::Zero(points.cols());
  return g;
}

// ---------------------------------------------------------------- data set factory

std::optional<GaussianMixture> dataset_mixture(const std::string& text) {
  const Spec spec = Spec::parse(text);
  if (spec.name == "25gaussians" || spec.name == "8gaussians") {
    expect_no_args(spec);
    return spec.name == "25gaussians" ? mixture_25gaussians() : mixture_8gaussians();
  }
  if (spec.name == "gaussian1d") return mixture_gaussian(spec, true);
  if (spec.name == "gaussian") return mixture_gaussian(spec, false);
  return std::nullopt;
}

Dataset make_dataset(const std::string& text, int n, uint64_t seed) {
  const Spec spec = Spec::parse(text);
  if (spec.name == "csv") return {text, read_dataset_csv(spec)};
  if (n < 1) throw Error("data set '" + text + "': n must be >= 1 (got " + std::to_string(n) + ")");
  if (auto mixture = dataset_mixture(text)) return {text, mixture->sample(n, stream_seed(seed, kDataStream))};

  std::function<Vec(Rng&)> point;
  if (spec.name == "swissroll") point = swissroll_point;
  else if (spec.name == "moons") point = moons_point;
  else if (spec.name == "rings") point = rings_point;
  else if (spec.name == "checkerboard") point = checkerboard_point;
  else throw Error("unknown data set '" + text + "' (valid: " + valid_names() + ")");
  expect_no_args(spec);
  return {text, draw_points(2, n, seed, point)};
}

int dataset_dim(const std::string& text) {
  const Spec spec = Spec::parse(text);
  if (spec.name == "csv") return int(read_dataset_csv(spec).rows());
  if (auto mixture = dataset_mixture(text)) return mixture->dim();
  for (const char* name : {"swissroll", "moons", "rings", "checkerboard"}) {
    if (spec.name != name) continue;
    expect_no_args(spec);
    return 2;
  }
  throw Error("unknown data set '" + text + "' (valid: " + valid_names() + ")");
}

std::vector<std::string> dataset_names() {
  return {"swissroll", "25gaussians", "8gaussians", "moons",     "rings",
          "checkerboard", "gaussian1d", "gaussian"};
}

}  // namespace diffpath
