// Onsager–Machlup actions (DESIGN §1.4): the path-integral KL bound E_P[Ã_θ − Ã] against the
// loss formula ∫ g²/2 E‖s_θ − ∇log p_t‖² dt, the DSM loss decomposition, the `kl` command, and
// the action of the sampler's own paths.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "run_command.hpp"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "diffpath/action.hpp"
#include "diffpath/dataset.hpp"
#include "diffpath/ground_truth.hpp"
#include "diffpath/sampler.hpp"
#include "diffpath/score_model.hpp"
#include "diffpath/trainer.hpp"

using namespace diffpath;

namespace {

// For Gaussian data N(m, v I) and the linear GaussianScore with errors (eps, delta), both
// estimators have expectations in closed form, for the continuous integral and for exactly
// the discretization action_kl_bound uses. Per coordinate, with p_t = N(a*, b*),
// δs = (x − a*)(1/b* − 1/b) + δ/b =: c1 u + c0 (u = x − a*), E‖δs‖² = d (c1² b* + c0²).
struct GaussianKlTruth {
  double integral = 0;        // ∫ g²/2 E‖δs‖² dt (Simpson, 2·10⁵ panels: exact to ~1e-12)
  double trapezoid = 0;       // E[by_loss]: the trapezoid rule on the sampler grid
  double actions = 0;         // E[by_actions] for the discrete paths, see below
};

GaussianKlTruth gaussian_kl_truth(const GaussianScoreParams& p, const Schedule& s, int N) {
  auto marginal = [&](double t) { return gaussian_marginal(p, s, t); };
  auto coeffs = [&](double t, double& c0, double& c1, double& bstar) {
    bstar = marginal(t).var;
    const double b = (1 + p.eps) * bstar;
    c1 = 1 / bstar - 1 / b;
    c0 = p.delta / b;
  };
  auto integrand = [&](double t) {
    double c0, c1, bs;
    coeffs(t, c0, c1, bs);
    return 0.5 * s.g2(t) * p.d * (c1 * c1 * bs + c0 * c0);
  };
  GaussianKlTruth out;
  const int M = 200000;
  const double H = (s.t_max - s.t_min) / M;
  for (int i = 0; i <= M; ++i)
    out.integral += (i == 0 || i == M ? 1 : (i % 2 ? 4 : 2)) * integrand(s.t_min + i * H) * H / 3;

  std::vector<double> t(N + 1);
  for (int k = 0; k <= N; ++k) t[k] = grid_time(s, N, k);
  for (int k = 0; k <= N; ++k)
    out.trapezoid += 0.5 * ((k > 0 ? t[k - 1] : t[k]) - (k < N ? t[k + 1] : t[k])) * integrand(t[k]);

  // E[by_actions] = Σ_k [ g² h E‖δs‖²/2 − E(δs · E[Δ + F h | x_k]) ]. The data path is jointly
  // Gaussian: x_k = r x_{k+1} + noise (r = α_k/α_{k+1}) gives Cov(x_{k+1}, x_k) = r b*_{k+1},
  // so E[x_{k+1} | x_k] = a*_{k+1} + r b*_{k+1}/b*_k u and, with F = f x + g² u / b*,
  // E[Δ + F h | x_k] = β0 + β1 u,  β0 = a*_{k+1} − a*_k + f h a*_k,
  //                                β1 = r b*_{k+1}/b*_k − 1 + f h + g² h / b*_k.
  for (int k = 0; k < N; ++k) {
    const double h = t[k] - t[k + 1], f = s.f(t[k]), g2 = s.g2(t[k]);
    const double r = s.alpha(t[k]) / s.alpha(t[k + 1]);
    const GaussianMoments now = marginal(t[k]), next = marginal(t[k + 1]);
    double c0, c1, bs;
    coeffs(t[k], c0, c1, bs);
    const double beta0 = next.mean - now.mean + f * h * now.mean;
    const double beta1 = r * next.var / now.var - 1 + f * h + g2 * h / now.var;
    out.actions += h * integrand(t[k]) - p.d * (c0 * beta0 + c1 * beta1 * bs);
  }
  return out;
}

// The DSM loss on the training grid, in closed form for Gaussian data N(m, v I): the exact
// score's irreducible L* and the excess L(θ) − L* of the linear score with errors (eps, delta)
// (see the DSM loss test below).
struct DsmLossTruth {
  double star = 0, excess = 0;
};

DsmLossTruth dsm_loss_truth(const GaussianScoreParams& p, const Schedule& s) {
  DsmLossTruth out;
  for (int k = 0; k < kTrainTimeGrid; ++k) {
    const double t = train_grid_time(s, k), a = s.alpha(t), sg2 = 1 - a * a;
    const double V = a * a * p.v + sg2;
    out.star += s.g2(t) * p.d * a * a * p.v / (sg2 * V) / kTrainTimeGrid;
    const double b = (1 + p.eps) * V, c1 = 1 / V - 1 / b, c0 = p.delta / b;
    out.excess += s.g2(t) * p.d * (c1 * c1 * V + c0 * c0) / kTrainTimeGrid;
  }
  return out;
}

Points gaussian_data(const GaussianScoreParams& p, int n, uint64_t seed) {
  return make_dataset("gaussian:d=" + std::to_string(p.d) + ",m=" + std::to_string(p.m) +
                          ",v=" + std::to_string(p.v),
                      n, seed)
      .points;
}

// The deliberately wrong linear score of the Gaussian tests, and the exact one.
constexpr GaussianScoreParams kWrong{.d = 2, .m = 0.5, .v = 0.25, .eps = 0.3, .delta = 0.15};
GaussianScoreParams exact_params(GaussianScoreParams p) {
  p.eps = p.delta = 0;
  return p;
}

}  // namespace

TEST_CASE("KL by actions equals the loss formula for a Gaussian model with known errors") {
  const GaussianScoreParams wrong = kWrong, right = exact_params(kWrong);
  for (const Schedule& s : {Schedule::simple(), Schedule::cosine()}) {
    CAPTURE(s.spec());
    const GaussianScore model(wrong, s), exact(right, s);
    const int N = 1000, P = 6000;
    const Points data = gaussian_data(wrong, P, 5);
    const ActionKl kl = action_kl_bound(model, exact, s, data, N, 17);
    const GaussianKlTruth truth = gaussian_kl_truth(wrong, s, N);
    MESSAGE(s.spec() << ": by actions " << kl.by_actions << " ± " << kl.by_actions_se
                     << ", by loss " << kl.by_loss << " ± " << kl.by_loss_se << "; exact integral "
                     << truth.integral << ", discrete expectations " << truth.actions << " / "
                     << truth.trapezoid);
    CHECK(kl.paths == P);
    CHECK(kl.steps == N);
    // Each estimator is unbiased for its own discretization: only Monte-Carlo error remains
    // (4 standard errors: a false alarm has probability 6e-5).
    CHECK(std::abs(kl.by_actions - truth.actions) < 4 * kl.by_actions_se);
    CHECK(std::abs(kl.by_loss - truth.trapezoid) < 4 * kl.by_loss_se);
    // The discretizations are consistent: E[by_actions] → ∫ at O(h), E[by_loss] at O(h²).
    // For `simple` both are within 2 % / 0.1 % of the integral at 1000 steps, so the two ways
    // agree within statistics plus that discretization error. `cosine` has g² = π tan(πt/2)
    // ≈ 2000 at Tmax = 0.999, so g² h ≈ 2 on the first uniform step: the EM-consistent
    // action sum is 40 % off there at 1000 steps (and so is the EM sampler, see
    // test_ground_truth) and needs ~10⁵ steps for 1 %; checked on the closed form below.
    if (s.kind == ScheduleKind::Simple) {
      CHECK(std::abs(truth.actions - truth.integral) < 0.02 * truth.integral);
      CHECK(std::abs(truth.trapezoid - truth.integral) < 1e-3 * truth.integral);
      const double se = std::hypot(kl.by_actions_se, kl.by_loss_se);
      CHECK(std::abs(kl.by_actions - kl.by_loss) <
            4 * se + std::abs(truth.actions - truth.trapezoid));
    } else {
      for (int n : {10000, 100000}) {
        const GaussianKlTruth t = gaussian_kl_truth(wrong, s, n);
        MESSAGE("cosine, " << n << " steps: E[by_actions] " << t.actions << ", E[by_loss] "
                           << t.trapezoid);
      }
      const GaussianKlTruth t5 = gaussian_kl_truth(wrong, s, 100000);
      CHECK(std::abs(t5.actions - t5.integral) < 0.02 * t5.integral);
      CHECK(std::abs(t5.trapezoid - t5.integral) < 1e-3 * t5.integral);
    }
    CHECK(kl.by_actions_se < 0.05 * truth.integral);  // the check above has teeth
  }
  // The action discretization error is first order: it halves with the step.
  const Schedule s = Schedule::simple();
  const double I = gaussian_kl_truth(wrong, s, 10).integral;
  const double e1 = gaussian_kl_truth(wrong, s, 500).actions - I;
  const double e2 = gaussian_kl_truth(wrong, s, 1000).actions - I;
  CHECK(e2 / e1 == doctest::Approx(0.5).epsilon(0.1));
}

TEST_CASE("DSM loss of any score model: the exact score's L* and L(theta) - L* = 2/dT * KL") {
  // Gaussian data N(m, v I): per coordinate, s* + z/σ = −α u / V + z (1/σ − σ/V) with
  // u = x₀ − m, V = α² v + σ², so E‖s* + z/σ‖² = d α² v / (σ² V) and the irreducible loss is
  // L* = mean over the training grid of g² d α² v / (σ² V). For the wrong linear score the
  // excess L(θ) − L* = mean over the grid of g² E‖δs‖² = 2/(Tmax − Tmin) · ∫ g²/2 E‖δs‖² dt
  // up to the grid's quadrature (the grid mean is a trapezoid-like rule on 1000 points).
  const GaussianScoreParams wrong = kWrong, right = exact_params(kWrong);
  for (const Schedule& s : {Schedule::simple(), Schedule::cosine()}) {
    CAPTURE(s.spec());
    const GaussianScore model(wrong, s), exact(right, s);
    // 40000 data points: the sample's variance is within √(2/n) ≈ 0.7 % of v, which moves
    // L* by less than that; the rest is Monte-Carlo error (4 se).
    const Points data = gaussian_data(wrong, 40000, 9);
    const LossEstimate star = dsm_loss_estimate(exact, s, data, 64, 5);
    const LossEstimate theta = dsm_loss_estimate(model, s, data, 64, 5);
    const DsmLossTruth truth = dsm_loss_truth(wrong, s);
    const double star_truth = truth.star, excess_truth = truth.excess;
    MESSAGE(s.spec() << ": L* " << star.mean << " ± " << star.se << " (closed form " << star_truth
                     << "), L(θ) − L* " << theta.mean - star.mean << " (closed form "
                     << excess_truth << ")");
    CHECK(star.samples == 64 * kTrainTimeGrid);
    CHECK(std::abs(star.mean - star_truth) < 4 * star.se + 0.007 * star_truth);
    CHECK(star.se < 0.02 * star_truth);
    // Same seed, same draws: the difference has far less noise than either estimate.
    CHECK(std::abs((theta.mean - star.mean) - excess_truth) < 4 * star.se / 10 + 0.02 * excess_truth);
    // And it is the KL term of the action bound in loss units, up to the grid mean as a
    // quadrature: within 0.2 % for `simple`; for `cosine` g² = π tan(πt/2) grows without bound
    // towards Tmax and the 1000-point grid mean is 7.5 % above the integral.
    const GaussianKlTruth kl = gaussian_kl_truth(wrong, s, 1000);
    const double in_loss_units = 2 / (s.t_max - s.t_min) * kl.integral;
    if (s.kind == ScheduleKind::Simple) CHECK(excess_truth == doctest::Approx(in_loss_units).epsilon(0.005));
    else CHECK(excess_truth == doctest::Approx(in_loss_units).epsilon(0.1));
  }
  CHECK_THROWS_AS(dsm_loss_estimate(GaussianScore(right, Schedule::simple()), Schedule::simple(),
                                    Points::Zero(1, 5), 4, 0), Error);
  CHECK_THROWS_AS(dsm_loss_estimate(GaussianScore(right, Schedule::simple()), Schedule::simple(),
                                    Points::Zero(2, 0), 4, 0), Error);
}

TEST_CASE("a raised cancel flag stops both estimators and says so") {
  const Schedule s = Schedule::simple();
  const GaussianScore model({1, 0.0, 1.0, 0.2, 0.0}, s), exact({1, 0.0, 1.0, 0.0, 0.0}, s);
  const Points data = Points::Random(1, 4000);
  std::atomic<bool> cancel{true};
  const ActionKl kl = action_kl_bound(model, exact, s, data, 500, 1, 2, &cancel);
  CHECK(kl.cancelled);
  const LossEstimate loss = dsm_loss_estimate(model, s, data, 64, 1, 2, &cancel);
  CHECK(loss.cancelled);
  cancel = false;
  CHECK_FALSE(action_kl_bound(model, exact, s, data.leftCols(8), 10, 1, 2, &cancel).cancelled);
  CHECK_FALSE(dsm_loss_estimate(model, s, data, 2, 1, 2, &cancel).cancelled);
}

TEST_CASE("the KL bound of the exact score is zero") {
  // Two independent implementations of the same exact score (GaussianScore with no error and
  // the mixture score of the same Gaussian): every term vanishes up to round-off.
  const Schedule s = Schedule::simple();
  const GaussianScoreParams p{.d = 2, .m = -0.3, .v = 0.5};
  const GaussianScore linear(p, s);
  const ScoreModelPtr mixture = make_score_model("exact:gaussian:d=2,m=-0.3,v=0.5", s);
  const ActionKl kl = action_kl_bound(*mixture, linear, s, gaussian_data(p, 500, 1), 200, 3);
  CHECK(std::abs(kl.by_actions) < 1e-8);
  CHECK(std::abs(kl.by_loss) < 1e-8);
}

TEST_CASE("KL by actions equals the loss formula beyond Gaussians (25 Gaussians)") {
  // θ-model: the exact score of a deliberately wrong mixture (centres shifted by 0.2, component
  // variances ×4). No closed form here; both estimators target the same integral, the actions
  // with an O(h) discretization bias that grows with the stiffness g² h / b* near Tmin. With
  // the paper's Tmin = 0.01 the modes are so sharp (b* ≈ 1.3e-3) that the bias is ≈ 9 % at
  // 1000 steps (measured with 12000 paths: 0.57, 0.66, 0.72, 0.75 at 250…2000 steps against
  // 0.79 by loss, i.e. first order); at Tmin = 0.05 (b* ≈ 0.025) the 500- and 1000-step
  // estimates agree within their standard error (≈ 4 %), so 5 % of the KL is a safe
  // allowance there. A wrong Itô convention (drift at the earlier-time end) would instead
  // add an O(1) term −∫ g² E[∇·δs] dt.
  const Schedule s = Schedule::parse("simple:tmin=0.05");
  const ScoreModelPtr exact = make_score_model("exact:25gaussians", s);
  GaussianMixture wrong = *dataset_mixture("25gaussians");
  wrong.means.row(0).array() += 0.2;
  wrong.variances *= 4.0;
  const MixtureScore model(wrong, s, "wrong25");
  const Points data = make_dataset("25gaussians", 3000, 8).points;
  const ActionKl kl = action_kl_bound(model, *exact, s, data, 1000, 4);
  MESSAGE("25gaussians: by actions " << kl.by_actions << " ± " << kl.by_actions_se
                                     << ", by loss " << kl.by_loss << " ± " << kl.by_loss_se);
  CHECK(kl.by_loss > 0.3);
  const double se = std::hypot(kl.by_actions_se, kl.by_loss_se);
  CHECK(se < 0.05 * kl.by_loss);
  CHECK(std::abs(kl.by_actions - kl.by_loss) < 4 * se + 0.05 * kl.by_loss);
}

TEST_CASE("path actions of the sampler's own paths: eta * sum |z|^2 / 2") {
  const Schedule s = Schedule::simple();
  const ScoreModelPtr model = make_score_model("exact:25gaussians", s);
  SamplerOptions o;
  o.n = 800;
  o.steps = 300;
  o.seed = 21;
  o.stride = 1;
  for (double eta : {0.3, 1.0}) {
    CAPTURE(eta);
    o.eta = eta;
    const SampleResult r = sample(*model, s, o);
    const Vec recomputed = path_actions(*model, s, eta, r.frame_times, r.frames);
    CHECK((recomputed - r.action).cwiseAbs().maxCoeff() < 1e-9 * r.action.maxCoeff());
    // η Σ_k ‖z_k‖²/2 with d·N standard normals per path: mean η d N / 2, variance η² d N / 2.
    const double d = 2, N = o.steps;
    const double expected = eta * d * N / 2, se = eta * std::sqrt(d * N / 2) / std::sqrt(o.n);
    CHECK(std::abs(r.action.mean() - expected) < 4 * se);
    const double var = (r.action.array() - r.action.mean()).square().sum() / (o.n - 1);
    CHECK(var == doctest::Approx(eta * eta * d * N / 2).epsilon(0.15));  // SE of a variance ≈ 5 %
  }
  // The recorded stride does not change the sampler's own (full-resolution) action.
  o.eta = 0.6;
  const Vec a1 = sample(*model, s, o).action;
  o.stride = 0;
  CHECK(sample(*model, s, o).action == a1);

  // The PF-ODE (η = 0) path has zero action: exactly for EM, O(h²) per path for Heun.
  o.stride = 1;
  o.eta = 0;
  const SampleResult em = sample(*model, s, o);
  CHECK(em.action.maxCoeff() < 1e-20);
  CHECK(path_actions(*model, s, 0.0, em.frame_times, em.frames).maxCoeff() < 1e-20);
  o.solver = Solver::Heun;
  const SampleResult heun = sample(*model, s, o);
  o.steps *= 2;
  const double heun_fine = sample(*model, s, o).action.mean();
  CHECK(heun.action.mean() < 1e-3);
  CHECK(heun.action.mean() / heun_fine == doctest::Approx(4).epsilon(0.15));  // O(h²)
  // ...and the same path judged by the η = 1 model has a positive action.
  CHECK(path_actions(*model, s, 1.0, heun.frame_times, heun.frames).minCoeff() > 0);
}

TEST_CASE("path_actions rejects malformed input") {
  const Schedule s = Schedule::simple();
  const GaussianScore model({.d = 2}, s);
  const std::vector<Points> frames{Points::Zero(2, 3), Points::Zero(2, 3)};
  CHECK_NOTHROW(path_actions(model, s, 0.5, {1.0, 0.5}, frames));
  CHECK_THROWS_AS(path_actions(model, s, 0.5, {0.5, 1.0}, frames), Error);       // increasing
  CHECK_THROWS_AS(path_actions(model, s, 0.5, {1.0}, frames), Error);            // count
  CHECK_THROWS_AS(path_actions(model, s, 1.5, {1.0, 0.5}, frames), Error);       // η
  CHECK_THROWS_AS(path_actions(model, s, 0.5, {1.0, 0.5},
                               {Points::Zero(2, 3), Points::Zero(2, 4)}), Error);  // shapes
  const GaussianScore model1({.d = 1}, s);
  CHECK_THROWS_AS(path_actions(model1, s, 0.5, {1.0, 0.5}, frames), Error);      // dimension
  CHECK_THROWS_AS(action_kl_bound(model1, model, s, Points::Zero(2, 5), 10, 0), Error);
  CHECK_THROWS_AS(action_kl_bound(model, model, s, Points::Zero(2, 1), 10, 0), Error);
}

TEST_CASE("diffpath-cli kl: both KL estimates and the loss decomposition against the closed form") {
  const GaussianScoreParams wrong = kWrong;
  const Schedule s = Schedule::simple();
  const std::string cli = std::string(DIFFPATH_CLI) + " kl";
  const auto [out, rc] = run(cli + " --score gaussian:m=0.5,v=0.25,eps=0.3,delta=0.15,d=2"
                                   " --data gaussian:d=2,m=0.5,v=0.25 --n 3000 --steps 400"
                                   " --per-time 16 --json");
  REQUIRE(rc == 0);
  const auto j = nlohmann::json::parse(out);
  const int N = j["steps"];
  CHECK(N == 400);
  CHECK(j["paths"] == 3000);
  const GaussianKlTruth kl = gaussian_kl_truth(wrong, s, N);
  const DsmLossTruth loss = dsm_loss_truth(wrong, s);
  // Each estimator against the expectation of its own discretization: 4 standard errors.
  const double a = j["kl"]["actions"]["mean"], a_se = j["kl"]["actions"]["se"];
  const double l = j["kl"]["loss_formula"]["mean"], l_se = j["kl"]["loss_formula"]["se"];
  CHECK(std::abs(a - kl.actions) < 4 * a_se);
  CHECK(std::abs(l - kl.trapezoid) < 4 * l_se);
  // L* within 4 se plus the 3000-point sample's moment error (√(2/n) ≈ 2.6 % of v, which
  // moves L* by less); the excess from common draws is much tighter than either loss.
  const double star = j["loss"]["exact"]["mean"], star_se = j["loss"]["exact"]["se"];
  const double model = j["loss"]["model"]["mean"];
  CHECK(std::abs(star - loss.star) < 4 * star_se + 0.026 * loss.star);
  CHECK(std::abs((model - star) - loss.excess) < 0.05 * loss.excess);
  CHECK(j["reference"] == "exact:gaussian:d=2,m=0.5,v=0.25");

  // An empirical data set: the reference is the training set's own score (a smoke check that
  // it runs and the KL of the exact score of that very set is zero).
  const auto [emp, rc2] = run(cli + " --score exact:moons --data moons --n-data 300 --n 50"
                                    " --steps 50 --per-time 4 --json");
  REQUIRE(rc2 == 0);
  const auto e = nlohmann::json::parse(emp);
  CHECK(std::abs(double(e["kl"]["actions"]["mean"])) < 1e-9);
  CHECK(std::abs(double(e["kl"]["loss_formula"]["mean"])) < 1e-9);
  // Bad input exits non-zero.
  CHECK(run(cli + " --score exact:moons --data nope").second != 0);
  CHECK(run(cli + " --score gaussian:m=0,v=1,eps=0,delta=0,d=1 --data moons").second != 0);
  CHECK(run(cli + " --score exact:moons --data moons --n 1").second != 0);
}
