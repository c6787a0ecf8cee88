// Analytic score models: the Gaussian linear score against its closed form, the mixture score
// against an independently written log-density, and every jet block against high-order
// central finite differences of the block below it.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>
#include <vector>

#include "diffpath/dataset.hpp"
#include "diffpath/parallel.hpp"
#include "diffpath/rng.hpp"
#include "diffpath/score_model.hpp"

using namespace diffpath;

namespace {

// log p_t(x) of a mixture written from scratch (no code shared with MixtureScore).
double mixture_log_density(const GaussianMixture& g, const Schedule& s, double t, const Vec& x) {
  const double alpha = s.alpha(t), sigma2 = 1.0 - alpha * alpha;
  std::vector<double> terms;
  for (int k = 0; k < g.size(); ++k) {
    const double c = alpha * alpha * g.variances(k) + sigma2;
    const double r2 = (x - alpha * g.means.col(k)).squaredNorm();
    terms.push_back(std::log(g.weights(k)) - 0.5 * g.dim() * std::log(2 * std::numbers::pi * c) -
                    0.5 * r2 / c);
  }
  const double top = *std::max_element(terms.begin(), terms.end());
  double sum = 0;
  for (double v : terms) sum += std::exp(v - top);
  return top + std::log(sum);
}

// Sixth-order central difference of a vector function along coordinate j: error
// h⁶ f⁽⁷⁾/140 plus rounding ≈ 1e-16 |f| / h.
Vec central_difference(const std::function<Vec(const Vec&)>& f, const Vec& x, int j, double h) {
  static constexpr double c[3] = {45.0 / 60, -9.0 / 60, 1.0 / 60};
  Vec acc = Vec::Zero(f(x).size());
  for (int m = 1; m <= 3; ++m) {
    Vec xp = x, xm = x;
    xp(j) += m * h;
    xm(j) -= m * h;
    acc += c[m - 1] * (f(xp) - f(xm));
  }
  return acc / h;
}

// One jet block (as a flat vector) at the single point x.
Vec jet_block(const ScoreModel& model, const Vec& x, double t, int order) {
  ScoreJet jet;
  model.jet(Points(x), t, std::max(order, 0), jet);
  switch (order) {
    case 0: return jet.s.col(0);
    case 1: return jet.J.col(0);
    case 2: return jet.H.col(0);
    default: return jet.T.col(0);
  }
}

// Checks block(order) against finite differences of block(order − 1) (order 0: the score
// against finite differences of log_density). Layout: block(order)[i·d + j] = ∂_j block(order−1)[i].
// h = 0.02 √c_min puts the truncation error (0.02)⁶ ≈ 6e-11 and the rounding ≈ 1e-14 / 0.02
// of the natural scale far below the tolerance 1e-7 · (1 + max |block|).
void check_jet_by_differences(const ScoreModel& model, const Vec& x, double t, double h,
                              const std::function<double(const Vec&)>& log_density) {
  const int d = model.dim();
  for (int order = 0; order <= 3; ++order) {
    const Vec analytic = jet_block(model, x, t, order);
    const double tol = 1e-7 * (1.0 + analytic.cwiseAbs().maxCoeff());
    for (int j = 0; j < d; ++j) {
      Vec numeric;
      if (order == 0) {
        numeric = central_difference([&](const Vec& y) { return Vec::Constant(1, log_density(y)); },
                                     x, j, h);
      } else {
        numeric = central_difference([&](const Vec& y) { return jet_block(model, y, t, order - 1); },
                                     x, j, h);
      }
      for (Eigen::Index i = 0; i < numeric.size(); ++i) {
        const double a = order == 0 ? analytic(j) : analytic(i * d + j);
        INFO("order " << order << " component " << i << " direction " << j);
        CHECK(std::abs(a - numeric(i)) <= tol);
      }
    }
  }
}

// Max deviation of a flat derivative block from its value under every index permutation.
double symmetry_defect(const Vec& block, int d, int rank) {
  std::vector<int> idx(rank);
  double worst = 0;
  const int total = int(block.size());
  for (int flat = 0; flat < total; ++flat) {
    for (int r = rank - 1, f = flat; r >= 0; --r, f /= d) idx[r] = f % d;
    std::vector<int> perm = idx;
    std::sort(perm.begin(), perm.end());
    do {
      int g = 0;
      for (int v : perm) g = g * d + v;
      worst = std::max(worst, std::abs(block(flat) - block(g)));
    } while (std::next_permutation(perm.begin(), perm.end()));
  }
  return worst;
}

GaussianMixture skewed_3d_mixture() {
  // Unequal weights and variances, one point mass: exercises every term of the cumulants.
  GaussianMixture g;
  g.weights = Eigen::Vector3d(0.5, 0.3, 0.2);
  g.means.resize(3, 3);
  g.means << 0.4, -0.8, 0.1,  //
      -0.2, 0.5, 0.9,         //
      0.7, 0.0, -0.6;
  g.variances = Eigen::Vector3d(0.05, 0.3, 0.0);
  return g;
}

}  // namespace

TEST_CASE("GaussianScore equals its closed form for both paper schedules") {
  const GaussianScoreParams p{2, 0.7, 1.8, 0.15, -0.3};
  for (const Schedule& schedule : {Schedule::simple(), Schedule::cosine()}) {
    const GaussianScore model(p, schedule);
    for (double t : {0.01, 0.2, 0.5, 0.9}) {
      // Closed forms typed in directly (DESIGN §1.1), not through Schedule.
      const double alpha = schedule.kind == ScheduleKind::Simple
                               ? std::exp(-5 * t * t)
                               : std::cos(std::numbers::pi * t / 2);
      const double a = alpha * 0.7 - 0.3, b = 1.15 * (alpha * alpha * 1.8 + 1 - alpha * alpha);
      CHECK(model.a(t) == doctest::Approx(a).epsilon(1e-14));
      CHECK(model.b(t) == doctest::Approx(b).epsilon(1e-12));
      Points x(2, 3);
      x << -1.0, 0.5, 3.0, 2.0, 0.0, -4.0;
      ScoreJet jet;
      model.jet(x, t, 3, jet);
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 2; ++j) CHECK(jet.s(j, i) == doctest::Approx(-(x(j, i) - a) / b).epsilon(1e-12));
      CHECK(jet.J(0, 1) == doctest::Approx(-1 / b));
      CHECK(jet.J(3, 1) == doctest::Approx(-1 / b));
      CHECK(jet.J(1, 1) == 0.0);
      CHECK(jet.H.cwiseAbs().maxCoeff() == 0.0);
      CHECK(jet.T.cwiseAbs().maxCoeff() == 0.0);
      Points s;
      model.score(x, t, s);
      CHECK((s - jet.s).cwiseAbs().maxCoeff() == 0.0);
    }
  }
}

TEST_CASE("MixtureScore of gaussian1d equals the exact GaussianScore") {
  const Schedule schedule = Schedule::linear(0.1, 20.0);
  const auto model = make_score_model("exact:gaussian1d:m=0.6,v=0.4", schedule);
  const GaussianScore gauss({1, 0.6, 0.4, 0.0, 0.0}, schedule);
  Points x(1, 5);
  x << -3.0, -0.5, 0.0, 0.6, 4.0;
  for (double t : {1e-3, 0.1, 0.5, 1.0}) {
    ScoreJet a, b;
    model->jet(x, t, 3, a);
    gauss.jet(x, t, 3, b);
    const double scale = 1.0 / gauss.b(t);  // size of s/|x| and of J
    CHECK((a.s - b.s).cwiseAbs().maxCoeff() <= 1e-12 * scale * 5);
    CHECK((a.J - b.J).cwiseAbs().maxCoeff() <= 1e-12 * scale);
    // One component: every centred w vanishes, so H and T are rounding only.
    CHECK(a.H.cwiseAbs().maxCoeff() <= 1e-12 * scale * scale);
    CHECK(a.T.cwiseAbs().maxCoeff() <= 1e-12 * scale * scale * scale);
  }
}

TEST_CASE("Mixture jets match finite differences (2D and 3D, mixed variances, point masses)") {
  const Schedule simple = Schedule::simple(), cosine = Schedule::cosine();
  struct Case {
    const char* name;
    GaussianMixture data;
    Schedule schedule;
    double t;
    Vec x;
  };
  Points five(2, 5);
  five << 0.1, -0.7, 0.9, 0.3, -0.2, 0.5, 0.2, -0.4, -0.9, 0.0;
  std::vector<Case> cases = {
      {"8gaussians t=0.3", *dataset_mixture("8gaussians"), simple, 0.3, Eigen::Vector2d(0.9, 0.2)},
      {"25gaussians t=0.1", *dataset_mixture("25gaussians"), simple, 0.1, Eigen::Vector2d(0.3, -0.4)},
      {"25gaussians cosine t=0.2", *dataset_mixture("25gaussians"), cosine, 0.2,
       Eigen::Vector2d(-0.35, 0.05)},
      {"3D skewed t=0.25", skewed_3d_mixture(), simple, 0.25, Eigen::Vector3d(0.2, 0.1, -0.3)},
      {"empirical 5 points t=0.2", GaussianMixture::empirical(five), simple, 0.2,
       Eigen::Vector2d(0.2, 0.1)},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const MixtureScore model(c.data, c.schedule, c.name);
    const double alpha = c.schedule.alpha(c.t);
    const double c_min = alpha * alpha * c.data.variances.minCoeff() + c.schedule.sigma2(c.t);
    check_jet_by_differences(model, c.x, c.t, 0.02 * std::sqrt(c_min), [&](const Vec& y) {
      return mixture_log_density(c.data, c.schedule, c.t, y);
    });
    // ∇s, ∇²s, ∇³s are derivatives of the gradient of log p: symmetric in all indices.
    const int d = model.dim();
    const Vec J = jet_block(model, c.x, c.t, 1), H = jet_block(model, c.x, c.t, 2),
              T = jet_block(model, c.x, c.t, 3);
    CHECK(symmetry_defect(J, d, 2) <= 1e-12 * J.cwiseAbs().maxCoeff());
    CHECK(symmetry_defect(H, d, 3) <= 1e-12 * H.cwiseAbs().maxCoeff());
    CHECK(symmetry_defect(T, d, 4) <= 1e-12 * T.cwiseAbs().maxCoeff());
  }
}

TEST_CASE("Gaussian jets match finite differences") {
  const GaussianScore model({2, 0.3, 0.8, 0.2, 0.1}, Schedule::cosine());
  const double t = 0.4, b = model.b(t), a = model.a(t);
  check_jet_by_differences(model, Eigen::Vector2d(0.5, -1.2), t, 0.02, [&](const Vec& y) {
    return -(y.array() - a).square().sum() / (2 * b);  // log density of the model, up to a constant
  });
}

TEST_CASE("jet orders are consistent and score() equals jet().s") {
  const auto model = make_score_model("exact:8gaussians", Schedule::simple());
  Points x = GaussianMixture(*dataset_mixture("8gaussians")).sample(64, 3);
  Points s;
  model->score(x, 0.2, s);
  for (int order = 0; order <= 3; ++order) {
    ScoreJet jet;
    model->jet(x, 0.2, order, jet);
    CHECK(jet.order == order);
    CHECK((jet.s - s).cwiseAbs().maxCoeff() <= 1e-14 * (1 + s.cwiseAbs().maxCoeff()));
  }
  ScoreJet j1, j3;
  model->jet(x, 0.2, 1, j1);
  model->jet(x, 0.2, 3, j3);
  CHECK((j1.J - j3.J).cwiseAbs().maxCoeff() == 0.0);
  CHECK(j3.T.rows() == 16);
  CHECK(j3.H.rows() == 8);
}

TEST_CASE("far from the data the mixture score is finite and pulls to the nearest component") {
  const Schedule schedule = Schedule::simple();
  const double t = schedule.t_min;
  const GaussianMixture data = *dataset_mixture("25gaussians");
  const auto model = make_score_model("exact:25gaussians", schedule);
  const double alpha = schedule.alpha(t), c = alpha * alpha * data.variances(0) + schedule.sigma2(t);
  // Nearest centre to (1e3, −1e3) is the corner (4, −4)/2.828.
  const Eigen::Vector2d x(1e3, -1e3), nearest = alpha * Eigen::Vector2d(4, -4) / 2.828;
  ScoreJet jet;
  model->jet(Points(x), t, 3, jet);
  CHECK(jet.s.allFinite());
  CHECK(jet.J.allFinite());
  CHECK(jet.H.allFinite());
  CHECK(jet.T.allFinite());
  const Eigen::Vector2d expected = -(x - nearest) / c;
  CHECK((jet.s.col(0) - expected).norm() <= 1e-12 * expected.norm());
  // One component carries all the weight: J = −I/c, H = T = 0 up to rounding of w = u − s
  // (|u| ≈ 1.4e6, so w has absolute error ≈ 1e-10 and the H sums ≈ 1e-10 · |J|).
  CHECK(jet.J(0, 0) == doctest::Approx(-1 / c).epsilon(1e-10));
  CHECK(std::abs(jet.J(1, 0)) <= 1e-9 / c);
  CHECK(jet.H.cwiseAbs().maxCoeff() <= 1e-6 / c);
  CHECK(jet.T.cwiseAbs().maxCoeff() <= 1e-6 / (c * c));

  const auto gauss1d = make_score_model("exact:gaussian1d:m=0,v=1", schedule);
  Points s;
  gauss1d->score(Points::Constant(1, 1, 1e3), t, s);
  CHECK(s(0, 0) == doctest::Approx(-1e3));  // c = α² + σ² = 1
}

TEST_CASE("empirical score at small t points to the nearest training point") {
  const Schedule schedule = Schedule::simple();
  const double t = schedule.t_min, alpha = schedule.alpha(t), c = schedule.sigma2(t);
  const Dataset data = make_dataset("swissroll", 60, 11);
  const MixtureScore model(GaussianMixture::empirical(data.points), schedule, "exact:swissroll");
  Rng rng(5);
  int tested = 0;
  for (int q = 0; q < 60; ++q) {
    const Eigen::Vector2d x =
        alpha * data.points.col(q) + 0.01 * Eigen::Vector2d(rng.normal(), rng.normal());
    // Squared distances to the diffused data points. Keep queries with a clear nearest point:
    // a gap Δ ≥ 0.03 in squared distance leaves the others a responsibility ≤ exp(−Δ/2c)
    // ≈ 3e-7 each, pulling with |u| ≲ 2/c against the nearest |u| ≳ 1e-3/c, so the score
    // matches the single-point formula to ≲ 1e-3 relative (typically far better).
    Eigen::VectorXd d2 = ((alpha * data.points).colwise() - x).colwise().squaredNorm().transpose();
    Eigen::Index best;
    const double nearest = d2.minCoeff(&best);
    d2(best) = INFINITY;
    if (d2.minCoeff() - nearest < 0.03) continue;
    ++tested;
    Points s;
    model.score(Points(x), t, s);
    const Eigen::Vector2d expected = (alpha * data.points.col(best) - x) / c;
    CHECK((s.col(0) - expected).norm() <= 1e-3 * expected.norm());
    CHECK(s.col(0).normalized().dot(expected.normalized()) > 0.999999);
  }
  CHECK(tested >= 15);  // 18 of 60 for this seed: the check is not vacuous
}

TEST_CASE("score models are thread-safe: parallel calls give the serial result") {
  const auto model = make_score_model("exact:swissroll", Schedule::simple(), {500, 2});
  const Points x = make_dataset("moons", 400, 9).points;
  Points serial;
  ScoreJet serial_jet;
  model->score(x, 0.3, serial);
  model->jet(x, 0.3, 3, serial_jet);
  Points parallel(2, x.cols());
  Eigen::MatrixXd parallel_T(16, x.cols());
  parallel_for(int(x.cols()), 4, [&](int b, int e) {
    Points s;
    ScoreJet jet;
    model->score(x.middleCols(b, e - b), 0.3, s);
    model->jet(x.middleCols(b, e - b), 0.3, 3, jet);
    parallel.middleCols(b, e - b) = s;
    parallel_T.middleCols(b, e - b) = jet.T;
  });
  CHECK((parallel - serial).cwiseAbs().maxCoeff() == 0.0);
  CHECK((parallel_T - serial_jet.T).cwiseAbs().maxCoeff() == 0.0);
}

TEST_CASE("make_score_model: specs, round trips and errors") {
  const Schedule schedule = Schedule::simple();
  auto exact = make_score_model("exact:25gaussians", schedule);
  CHECK(exact->spec() == "exact:25gaussians");
  CHECK(exact->dim() == 2);
  const auto* mixture = dynamic_cast<const MixtureScore*>(exact.get());
  REQUIRE(mixture != nullptr);
  CHECK(mixture->data().size() == 25);

  auto empirical = make_score_model("exact:swissroll", schedule, {300, 4});
  const auto* emp = dynamic_cast<const MixtureScore*>(empirical.get());
  REQUIRE(emp != nullptr);
  CHECK(emp->data().size() == 300);
  CHECK(emp->data().means == make_dataset("swissroll", 300, 4).points);
  CHECK(empirical->spec() == "exact:swissroll");

  auto g = make_score_model("gaussian:m=0.5,v=2,eps=-0.1,delta=0.25", schedule);
  const auto* gs = dynamic_cast<const GaussianScore*>(g.get());
  REQUIRE(gs != nullptr);
  CHECK(gs->params().d == 1);
  CHECK(gs->params().m == 0.5);
  CHECK(gs->params().v == 2.0);
  CHECK(gs->params().eps == -0.1);
  CHECK(gs->params().delta == 0.25);
  auto again = make_score_model(g->spec(), schedule);
  const auto* gs2 = dynamic_cast<const GaussianScore*>(again.get());
  REQUIRE(gs2 != nullptr);
  CHECK(gs2->params().m == 0.5);
  CHECK(gs2->params().eps == -0.1);
  CHECK(gs2->params().delta == 0.25);
  CHECK(make_score_model("gaussian:d=3", schedule)->dim() == 3);
  CHECK(make_score_model("exact:gaussian:d=4,m=1,v=2", schedule)->dim() == 4);

  for (const char* bad : {"nosuch", "gaussian:q=1", "gaussian:v=-1", "gaussian:eps=-1",
                          "gaussian:d=0", "gaussian:d=1.5", "gaussian:m=abc", "exact:",
                          "exact:nosuch", "exact:csv:/nonexistent/x.csv", "model:/nonexistent.st"}) {
    INFO(bad);
    CHECK_THROWS_AS(make_score_model(bad, schedule), Error);
  }
  CHECK_THROWS_WITH_AS(make_score_model("nosuch", schedule), doctest::Contains("exact:DATA"), Error);

  // Bad calls: wrong dimension, bad order, zero-variance components at t = 0.
  Points s;
  CHECK_THROWS_AS(exact->score(Points::Zero(3, 2), 0.5, s), Error);
  ScoreJet jet;
  CHECK_THROWS_AS(exact->jet(Points::Zero(2, 2), 0.5, 4, jet), Error);
  CHECK_THROWS_AS(empirical->score(Points::Zero(2, 2), 0.0, s), Error);
}

// ------------------------------------------------------------ equal-variance fast path
//
// MixtureScore takes a fast path (pruned blocks, fused exp pass; at large t a Taylor
// expansion for batches of many points) when all components share one variance v. A twin with one variance differing forces the general path with the same
// density to rounding: for point masses (v = 0) one variance becomes 5e-324, which α² · 5e-324
// underflows away; otherwise a copy of component 0 with weight 1e-300 · Σw and a slightly
// smaller variance is appended (narrower, so its term stays ≥ 690 below component 0's
// everywhere: a relative contribution ≤ 1e-300).

namespace {

// The same mixture, but on the general path.
MixtureScore general_twin(GaussianMixture g, const Schedule& schedule) {
  if (g.variances(0) == 0) {
    g.variances(0) = std::nextafter(0.0, 1.0);
    return MixtureScore(std::move(g), schedule, "general");
  }
  const Eigen::Index K = g.size();
  GaussianMixture twin;
  twin.weights = Vec(K + 1);
  twin.weights << g.weights, 1e-300 * g.weights.sum();
  twin.means = Points(g.dim(), K + 1);
  twin.means << g.means, g.means.col(0);
  twin.variances = Vec(K + 1);
  twin.variances << g.variances, 0.999 * g.variances(0);
  g = std::move(twin);
  return MixtureScore(std::move(g), schedule, "general");
}

// Largest deviation of `fast` from `general` per point, relative to the block's rounding
// scale at that point. Both paths form w = u − s with absolute rounding ε(|s| + κ), κ = 1/√c
// the spread of u, and a moment of order n moves by ≈ n·δw·κ^(n−1); so s, J, H, T are compared
// in units of (|s| + κ)·κ^(0, 1, 2, 3). (Near the data |s| ≲ κ and these are the natural
// scales 1/√c, 1/c, …; far out, |s| ≈ |x|/c and H, T are rounding noise in both paths.)
struct JetDeviation {
  double s = 0, J = 0, H = 0, T = 0;
  bool differs = false;  // any bit differs (the paths sum in different orders)
};
JetDeviation jet_deviation(const ScoreJet& fast, const ScoreJet& general, double c) {
  JetDeviation dev;
  const double k = 1 / std::sqrt(c);
  const auto worst = [](const Eigen::MatrixXd& a, const Eigen::MatrixXd& b, Eigen::Index i) {
    return (a.col(i) - b.col(i)).cwiseAbs().maxCoeff();
  };
  for (Eigen::Index i = 0; i < fast.s.cols(); ++i) {
    const double unit = general.s.col(i).norm() + k;
    dev.s = std::max(dev.s, worst(fast.s, general.s, i) / unit);
    dev.J = std::max(dev.J, worst(fast.J, general.J, i) / (unit * k));
    dev.H = std::max(dev.H, worst(fast.H, general.H, i) / (unit * k * k));
    dev.T = std::max(dev.T, worst(fast.T, general.T, i) / (unit * k * k * k));
  }
  dev.differs = fast.s != general.s || fast.T != general.T;
  return dev;
}

// Points distributed as p_t (α · data + σ · noise) plus a few far from the data. Not too far:
// the log-terms themselves (|x − αμ|²/2c) carry rounding ε·|x|²/2c in both paths, which at
// |x| = 1e6 is ~1e-4 and legitimately moves the components of s across the pull; see the
// stability test below for such points.
Points query_points(const GaussianMixture& data, const Schedule& schedule, double t, int n) {
  Points x = data.sample(n, 21);
  Rng rng(22);
  const double alpha = schedule.alpha(t), sigma = std::sqrt(schedule.sigma2(t));
  for (Eigen::Index i = 0; i < x.cols(); ++i)
    for (Eigen::Index j = 0; j < x.rows(); ++j) x(j, i) = alpha * x(j, i) + sigma * rng.normal();
  x.col(0).setConstant(30.0);
  x.col(1).setConstant(-1e3);
  x(0, 2) = 100;
  return x;
}

void check_fast_equals_general(const GaussianMixture& data, const Schedule& schedule,
                               const std::vector<double>& times, int n_points) {
  const MixtureScore fast(data, schedule, "fast"), general = general_twin(data, schedule);
  bool any_difference = false;
  for (double t : times) {
    INFO("t = " << t);
    const Points x = query_points(data, schedule, t, n_points);
    ScoreJet a, b;
    fast.jet(x, t, 3, a);
    general.jet(x, t, 3, b);
    CHECK(a.T.allFinite());
    const double alpha = schedule.alpha(t);
    const double c = alpha * alpha * data.variances(1) + schedule.sigma2(t);
    const JetDeviation dev = jet_deviation(a, b, c);
    // score() may take the Taylor expansion (large t, many components): the same bound.
    ScoreJet from_score = b;
    fast.score(x, t, from_score.s);
    CHECK(jet_deviation(from_score, b, c).s <= 1e-12);
    // The paths sum the same terms in different orders (or expand them, at large t): rounding
    // only. Measured: ≤ 4e-15 for s and J, ≤ 1e-14 for H, ≤ 7e-14 for T (the far points at
    // t_min); 1e-12 leaves a margin.
    CHECK(dev.s <= 1e-12);
    CHECK(dev.J <= 1e-12);
    CHECK(dev.H <= 1e-12);
    CHECK(dev.T <= 1e-12);
    any_difference = any_difference || dev.differs;
  }
  CHECK(any_difference);  // the twin really took the other path
}

}  // namespace

TEST_CASE("fast path equals the general path: empirical swiss roll at t_min..1") {
  const Schedule schedule = Schedule::simple();
  const Points points = make_dataset("swissroll", 1500, 3).points;
  const GaussianMixture data = GaussianMixture::empirical(points);
  check_fast_equals_general(data, schedule, {schedule.t_min, 0.02, 0.05, 0.1, 0.3, 0.6, 1.0}, 200);
}

TEST_CASE("fast path equals the general path: 1D, 3D, 5D, unequal weights, tiny sets") {
  const Schedule schedule = Schedule::cosine();
  Rng rng(8);
  for (int d : {1, 3, 5}) {
    INFO("d = " << d);
    GaussianMixture g;
    const int K = 70;
    g.means = Points(d, K);
    g.weights = Vec(K);
    for (int k = 0; k < K; ++k) {
      for (int j = 0; j < d; ++j) g.means(j, k) = rng.normal();
      g.weights(k) = 0.1 + rng.uniform();
    }
    g.weights /= g.weights.sum();
    g.variances = Vec::Constant(K, 0.02);
    check_fast_equals_general(g, schedule, {schedule.t_min, 0.1, 0.5}, 40);
  }
  check_fast_equals_general(*dataset_mixture("25gaussians"), schedule, {schedule.t_min, 0.3}, 60);
  Points three(2, 3);
  three << 0.0, 1.0, 0.2, 0.5, -0.3, 0.9;
  check_fast_equals_general(GaussianMixture::empirical(three), schedule, {schedule.t_min, 0.4}, 20);
}

TEST_CASE("fast path far from an empirical set: finite, pulls to the nearest point") {
  const Schedule schedule = Schedule::simple();
  const double t = schedule.t_min, alpha = schedule.alpha(t), c = schedule.sigma2(t);
  const Points data = make_dataset("swissroll", 3000, 5).points;
  const MixtureScore model(GaussianMixture::empirical(data), schedule, "exact:swissroll");
  for (const Eigen::Vector2d& x :
       {Eigen::Vector2d(40, -25), Eigen::Vector2d(-1e4, 3e3), Eigen::Vector2d(1e6, 0.3)}) {
    INFO("x = " << x.transpose());
    Eigen::Index nearest;
    ((alpha * data).colwise() - x).colwise().squaredNorm().minCoeff(&nearest);
    const Eigen::Vector2d expected = (alpha * data.col(nearest) - x) / c;
    ScoreJet jet;
    model.jet(Points(x), t, 3, jet);
    CHECK(jet.T.allFinite());
    // Far out, log-terms of neighbouring points differ by ≈ |x|·(distance gap)/c ≫ 50: one
    // point carries all the weight, and J = −I/c up to the rounding of w = u − s (≈ ε|x|/c).
    CHECK((jet.s.col(0) - expected).norm() <= 1e-12 * expected.norm());
    CHECK(jet.J(0, 0) == doctest::Approx(-1 / c).epsilon(1e-9));
    CHECK(std::abs(jet.J(1, 0)) <= 1e-9 / c);
  }
  Points bad(2, 2);
  bad << 0.1, NAN, 0.2, 0.3;
  Points s;
  model.score(bad, t, s);
  CHECK(s.col(0).allFinite());
  CHECK(s.col(1).hasNaN());
}

TEST_CASE("large-t expansion at the edge of its reach matches the general path") {
  // score() and jet() evaluate a Taylor expansion in β = α·radius·(x − α·centre)/c (centre
  // and radius of the means' bounding box) where |β| ≤ 1.5, for batches with ≥ 32 such
  // points and data sets of ≥ 2·(monomials) components. Points on circles of |β| = 1.49
  // (worst truncation and cancellation) and 0.5, at several t, against the direct sums of
  // the general path.
  const Schedule schedule = Schedule::simple();
  const Points data = make_dataset("swissroll", 3000, 7).points;
  const GaussianMixture mixture = GaussianMixture::empirical(data);
  const MixtureScore fast(mixture, schedule, "fast"), general = general_twin(mixture, schedule);
  const Vec centre = 0.5 * (data.rowwise().maxCoeff() + data.rowwise().minCoeff());
  const double radius = (data.colwise() - centre).colwise().norm().maxCoeff();
  for (double t : {0.35, 0.5, 0.8, 1.0}) {
    INFO("t = " << t);
    const double alpha = schedule.alpha(t), c = schedule.sigma2(t);
    Points x(2, 128);
    for (int i = 0; i < 128; ++i) {
      const double angle = 2 * std::numbers::pi * i / 64, beta = i < 64 ? 1.49 : 0.5;
      const double z = beta * c / (alpha * radius);
      x(0, i) = alpha * centre(0) + z * std::cos(angle);
      x(1, i) = alpha * centre(1) + z * std::sin(angle);
    }
    Points a, b;
    fast.score(x, t, a);
    general.score(x, t, b);
    double worst = 0;
    for (Eigen::Index i = 0; i < x.cols(); ++i)
      worst = std::max(worst, (a.col(i) - b.col(i)).norm() / (b.col(i).norm() + 1 / std::sqrt(c)));
    // Bound (score_model.cpp): truncation ≤ 9e-18 and rounding ≤ e³ε ≈ 2e-15 of ∇F/F, times
    // R/c against 1/√c here (R/√c ≤ 1.3). Measured ≤ 7.4e-16.
    CHECK(worst <= 1e-14);
    // Jets: cumulants of η from raw moments ∂^γF/F (|γ| ≤ 4) can lose a few more digits to
    // cancellation (measured ≤ 1.7e-15 here); 1e-13 allows for that.
    ScoreJet ja, jb;
    fast.jet(x, t, 3, ja);
    general.jet(x, t, 3, jb);
    const JetDeviation dev = jet_deviation(ja, jb, c);
    CHECK(dev.s <= 1e-14);
    CHECK(dev.J <= 1e-13);
    CHECK(dev.H <= 1e-13);
    CHECK(dev.T <= 1e-13);
  }
}
