// NLL(η) of the η-sampler by Feynman–Kac importance sampling (DESIGN §1.9), against the
// closed form of Gaussian data with a wrong linear score (d = 1, 2), the probability-flow NLL
// at η = 0, the exact mixture score (flat in η), a 1D Fokker–Planck solve for a trained
// network, and the exact WKB coefficient as the curve's tangent at 0.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "diffpath/checkpoint.hpp"
#include "diffpath/dataset.hpp"
#include "diffpath/ground_truth.hpp"
#include "diffpath/likelihood.hpp"
#include "diffpath/mlp.hpp"
#include "diffpath/rng.hpp"
#include "diffpath/score_model.hpp"
#include "diffpath/stats.hpp"
#include "diffpath/trainer.hpp"
#include "run_command.hpp"

using namespace diffpath;

namespace {

constexpr double kLog2Pi = 1.8378770664093453;

Points normal_points(int d, int n, double m, double v, uint64_t seed) {
  Rng rng(seed);
  Points x(d, n);
  for (int p = 0; p < n; ++p)
    for (int i = 0; i < d; ++i) x(i, p) = m + std::sqrt(v) * rng.normal();
  return x;
}

// −log q₀^η(x) of the Gaussian η-model N(μ, P I) at Tmin (ground_truth.hpp), mean over points.
double gaussian_mean_nll(const GaussianScoreParams& g, const Schedule& s, double eta, const Points& x) {
  const GaussianMoments q = gaussian_final(g, s, eta).moments;
  return (0.5 * (x.array() - q.mean).square().colwise().sum() / q.var).mean() +
         0.5 * double(x.rows()) * (kLog2Pi + std::log(q.var));
}

EtaLikelihoodOptions options(std::vector<double> etas) {
  EtaLikelihoodOptions o;
  o.etas = std::move(etas);
  o.threads = 2;
  return o;
}

}  // namespace

TEST_CASE("Gaussian data, wrong linear score: NLL(eta) equals the closed form (d = 1, 2)") {
  // Against the exact mean over the SAME points, so only the estimator's own error is left:
  // its Monte-Carlo error (mc_se, from independent path halves), its Jensen bias and the
  // time-step error (each reported).
  // The third case is strongly nonlinear in η: |E[−c]| > 10, so the tangent at 0 is off by
  // far more than 0.01 already at η = 0.05 — the estimator has to follow the curve itself.
  struct Case {
    const char* name;
    GaussianScoreParams g;
    const char* schedule;
  };
  const Case cases[] = {{"d = 1, simple", {1, 0.7, 0.3, 0.3, 0.2}, "simple"},
                        {"d = 2, cosine", {2, 0.5, 0.4, 0.2, 0.15}, "cosine"},
                        {"d = 2, strongly nonlinear", {2, 0.5, 0.1, -0.05, 0.1}, "simple"}};
  for (const Case& c : cases) {
    CAPTURE(std::string(c.name));
    const Schedule s = Schedule::parse(c.schedule);
    const GaussianScore score(c.g, s);
    const Points x = normal_points(c.g.d, 200, c.g.m, c.g.v, 11);
    const std::vector<double> etas{0.05, 0.2, 0.5, 1.0};
    // A wrong score makes the step error first order (likelihood.hpp): 512 steps put it below
    // 0.01 here; the reported err (half-step change) must show that.
    EtaLikelihoodOptions o = options(etas);
    o.steps = 512;
    o.paths = 64;
    const EtaLikelihoodSummary r = evaluate_likelihood_eta(score, s, x, o);
    REQUIRE(r.n == 200);
    const double slope = gaussian_nll_slope(c.g, s);
    if (std::string(c.name).find("nonlinear") != std::string::npos) CHECK(std::abs(slope) > 10);
    for (size_t e = 0; e < etas.size(); ++e) {
      const EtaCurvePoint& cp = r.curve[e];
      const double truth = gaussian_mean_nll(c.g, s, etas[e], x);
      MESSAGE(std::string(c.name) << " eta " << etas[e] << ": " << cp.mean << " vs exact " << truth
                     << " (mc_se " << cp.mc_se << ", bias " << cp.bias << ", err " << cp.err
                     << ", ess median " << cp.ess_median << "; tangent "
                     << gaussian_mean_nll(c.g, s, 0, x) + etas[e] * slope << ")");
      // Combined error: 3 Monte-Carlo standard errors, the estimated Jensen bias and the
      // estimated step error, + 0.01.
      CHECK(std::abs(cp.mean - truth) < 3 * cp.mc_se + std::abs(cp.bias) + cp.err + 0.01);
      CHECK(cp.err < 0.03);
      CHECK(cp.mc_se < 0.02);
    }
  }
}

TEST_CASE("eta = 0 is the probability-flow NLL of section 1.5") {
  // One deterministic Heun path per point on the log-SNR grid against Dormand–Prince at
  // rtol 1e-9: second order (seen: the worst of 64 swiss-roll points is 7e-3 at the default
  // 128 steps, 6e-5 for the Gaussian), so 512 steps put every point within 1e-3.
  const Schedule simple = Schedule::simple();
  const ScoreModelPtr net =
      make_score_model("model:" + std::string(DIFFPATH_SOURCE_DIR) + "/assets/swissroll-simple.safetensors", simple);
  const Points xg = normal_points(2, 64, 0.5, 0.4, 3);
  const GaussianScore gauss({2, 0.5, 0.4, 0.5, 0.15}, simple);
  const Points xs = make_dataset("swissroll", 64, 7).points;
  for (auto [model, x] : {std::pair{static_cast<const ScoreModel*>(&gauss), xg}, std::pair{net.get(), xs}}) {
    CAPTURE(model->spec());
    LikelihoodOptions lo;
    lo.rtol = lo.atol = 1e-9;
    lo.wkb = lo.error_estimate = false;
    const LikelihoodSummary pf = evaluate_likelihood(*model, simple, x, lo);
    EtaLikelihoodOptions o = options({0.0});
    o.steps = 512;
    const EtaLikelihoodSummary r = evaluate_likelihood_eta(*model, simple, x, o);
    double worst = 0;
    int both = 0;
    for (int p = 0; p < int(x.cols()); ++p) {
      if (!pf.points[p].ok || !r.points[p].ok) continue;
      ++both;
      worst = std::max(worst, std::abs(-r.points[p].at[0].log_q - pf.points[p].nll));
    }
    MESSAGE(model->spec() << ": max |NLL_eta=0 - NLL_PF| = " << worst << " over " << both << " points");
    CHECK(both >= 60);
    CHECK(worst < 1e-3);
    CHECK(r.curve[0].mc_se == 0);
  }
}

TEST_CASE("Exact mixture score: the curve is flat in eta") {
  // s = ∇log p_t is ∇log q^η for every η, so every η has the data's marginals; the proposal
  // is then the exact time reversal and the weights are constant up to time stepping.
  const Schedule s = Schedule::simple();
  const ScoreModelPtr exact = make_score_model("exact:8gaussians", s);
  const Points x = make_dataset("8gaussians", 200, 5).points;
  const EtaLikelihoodSummary r = evaluate_likelihood_eta(*exact, s, x, options({0.0, 0.2, 1.0}));
  REQUIRE(r.n == 200);
  for (const EtaCurvePoint& cp : r.curve) {
    MESSAGE("eta " << cp.eta << ": " << cp.mean << " (delta " << cp.delta.mean.mean << " ± "
                   << cp.delta.mean.se << ", mc_se " << cp.mc_se << ", ess median " << cp.ess_median << ")");
    CHECK(std::abs(cp.mean - r.curve[0].mean) < 3 * cp.mc_se + 0.01);
    if (cp.eta > 0) CHECK(cp.ess_median > 0.9 * EtaLikelihoodOptions{}.paths);  // nearly constant weights
  }
}

TEST_CASE("Common random numbers, determinism, threads, cancel and bad input") {
  const Schedule s = Schedule::simple();
  const GaussianScore score({1, 0.7, 0.3, 0.3, 0.2}, s);
  const Points x = normal_points(1, 40, 0.7, 0.3, 2);
  EtaLikelihoodOptions o = options({0.1, 0.5});
  o.threads = 1;
  const EtaLikelihoodSummary a = evaluate_likelihood_eta(score, s, x, o);
  o.threads = 2;
  o.batch_columns = 64 * 3;  // other blocks
  const EtaLikelihoodSummary b = evaluate_likelihood_eta(score, s, x, o);
  for (int p = 0; p < 40; ++p)
    for (int e = 0; e < 2; ++e) CHECK(a.points[p].at[e].log_q == b.points[p].at[e].log_q);
  // A point's estimate does not depend on which other points are evaluated with it.
  const EtaLikelihoodSummary one = evaluate_likelihood_eta(score, s, x.leftCols(1), o);
  CHECK(one.points[0].at[1].log_q == a.points[0].at[1].log_q);
  // CRN: neighbouring η share the Brownian paths, so their difference is far less noisy
  // than either value (a smooth curve).
  EtaLikelihoodOptions near = options({0.5, 0.52});
  const EtaLikelihoodSummary c = evaluate_likelihood_eta(score, s, x, near);
  CHECK(std::abs(c.curve[1].mean - c.curve[0].mean) < 0.2 * std::abs(c.curve[0].mean - a.curve[0].mean) + 0.01);

  std::atomic<bool> cancel{true};
  const EtaLikelihoodSummary cut = evaluate_likelihood_eta(score, s, x, o, &cancel);
  CHECK(cut.cancelled);
  CHECK(cut.n == 0);

  for (auto bad : {std::vector<double>{}, std::vector<double>{-0.1}, std::vector<double>{1.5},
                   std::vector<double>{NAN}})
    CHECK_THROWS_AS(evaluate_likelihood_eta(score, s, x, options(bad)), Error);
  EtaLikelihoodOptions few = options({0.1});
  few.paths = 1;
  CHECK_THROWS_AS(evaluate_likelihood_eta(score, s, x, few), Error);
  CHECK_THROWS_AS(evaluate_likelihood_eta(score, s, normal_points(2, 3, 0, 1, 1), options({0.1})), Error);
  Points with_nan = x.leftCols(3);
  with_nan(0, 1) = NAN;
  const EtaLikelihoodSummary partial = evaluate_likelihood_eta(score, s, with_nan, options({0.1}));
  CHECK(partial.n == 2);
  CHECK(partial.excluded == 1);
  CHECK(!partial.points[1].error.empty());
}

TEST_CASE("The curve's slope at eta = 0 is the exact WKB coefficient E[c]") {
  // With common random numbers the per-point change log q^η − log q⁰ is smooth in η; its
  // slope at 0 by Richardson from η = h, 2h, (4Δ(h) − Δ(2h)) / (2h), must be c(x₀) of the
  // exact G/H integration (likelihood.hpp), averaged over the same points. The network's
  // points are those with |c| < 20 (the first order holds up to η ≪ 1/|c|; the heavy tail's
  // points need a smaller h than the Monte-Carlo noise allows). Allowance: 3 standard errors
  // of the slope's mean over points (the Monte-Carlo noise of Δ/η grows like 1/√η) + 2 % of
  // the spread of c.
  const Schedule simple = Schedule::simple();
  const GaussianScore gauss({2, 0.5, 0.1, -0.05, 0.1}, simple);  // E[−c] ≈ −10.7
  const ScoreModelPtr net =
      make_score_model("model:" + std::string(DIFFPATH_SOURCE_DIR) + "/assets/swissroll-simple.safetensors", simple);
  const Points xg = normal_points(2, 100, 0.5, 0.1, 8);
  const Points xs = make_dataset("swissroll", 100, 9).points;
  for (auto [model, x] : {std::pair{static_cast<const ScoreModel*>(&gauss), xg}, std::pair{net.get(), xs}}) {
    CAPTURE(model->spec());
    LikelihoodOptions lo;
    lo.error_estimate = false;
    const LikelihoodSummary wkb = evaluate_likelihood(*model, simple, x, lo);
    const double h = 0.002;
    EtaLikelihoodOptions o = options({h, 2 * h});
    o.paths = 64;
    const EtaLikelihoodSummary r = evaluate_likelihood_eta(*model, simple, x, o);
    std::vector<double> slope, c;
    for (int p = 0; p < int(x.cols()); ++p) {
      if (!wkb.points[p].ok || !r.points[p].ok || std::abs(wkb.points[p].c) >= 20) continue;
      // log q⁰ is the η = 0 run behind `delta`; recover Δ(η) from the per-point values.
      const double l1 = r.points[p].at[0].log_q, l2 = r.points[p].at[1].log_q, l0 = -wkb.points[p].nll;
      slope.push_back((4 * (l1 - l0) - (l2 - l0)) / (2 * h));
      c.push_back(wkb.points[p].c);
    }
    REQUIRE(slope.size() > 60);
    const MeanSe ms = mean_se(slope), mc = mean_se(c);
    std::vector<double> diff(slope.size());
    for (size_t i = 0; i < slope.size(); ++i) diff[i] = slope[i] - c[i];
    const MeanSe md = mean_se(diff);
    MESSAGE(model->spec() << ": slope " << ms.mean << " vs E[c] " << mc.mean << " (paired difference "
                          << md.mean << " ± " << md.se << ", " << slope.size() << " points)");
    CHECK(std::abs(md.mean) < 3 * md.se + 0.02 * std::sqrt(double(c.size())) * mc.se);
  }
}

TEST_CASE("diffpath-cli nll --eta: JSON keys, CSV columns, against the Gaussian closed form") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("diffpath_test_nll_eta_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string csv = (dir / "pp.csv").string();
  const std::string base = std::string(DIFFPATH_CLI) +
                           " nll --score gaussian:m=0.7,v=0.3,eps=0.3,delta=0.2 --data gaussian1d:m=0.7,v=0.3"
                           " --n 300 --threads 2 --no-error";
  const auto [out, code] = run(base + " --eta 0:1:3 --paths 32 --eta-steps 256 --json --csv " + csv);
  REQUIRE(code == 0);
  const nlohmann::json j = nlohmann::json::parse(out);
  const GaussianScoreParams g{1, 0.7, 0.3, 0.3, 0.2};
  for (const char* key : {"0", "0.5", "1"}) {
    CAPTURE(key);
    REQUIRE(j["eta"].contains(key));
    const nlohmann::json& e = j["eta"][key];
    for (const char* field : {"mean", "se", "mc_se", "bias", "err"}) CHECK(e.contains(field));
    // Population truth: the points' spread (se) enters too.
    const double truth = gaussian_nll(g, Schedule::simple(), std::stod(key));
    CHECK(std::abs(e["mean"].get<double>() - truth) <
          3 * std::hypot(e["se"].get<double>(), e["mc_se"].get<double>()) + e["err"].get<double>() + 0.02);
  }
  CHECK(j["wkb"].contains("median"));
  CHECK(j["wkb"].contains("trimmed_mean"));
  std::ifstream c(csv);
  std::string header;
  std::getline(c, header);
  CHECK(header == "x,nll,c,c_err,nll_err,ok,nll_eta_0,nll_eta_0.5,nll_eta_1");
  for (const char* bad : {" --eta 2", " --eta 0.5abc", " --eta 0:1", " --eta 0.1 --paths 1"})
    CHECK(run(base + bad).second != 0);
  fs::remove_all(dir);
}

TEST_CASE("first_order_holds_up_to: where the WKB tangent stops describing the curve") {
  // A curve Δ(η) = η·w + k·η² with exact errors: the line η·w misses by k·η², so it holds
  // while k·η² ≤ 2·se + own + 0.01.
  const double w = -2.0, k = 1.0;
  std::vector<EtaCurvePoint> curve;
  for (double eta : {0.0, 0.05, 0.1, 0.2, 0.5, 1.0}) {
    EtaCurvePoint c;
    c.eta = eta;
    c.delta.mean.mean = eta * w + k * eta * eta;
    c.delta.mean.se = 0.001;
    c.mc_se = 0.001;
    c.bias = 0.0;
    c.err = 0.001;
    curve.push_back(c);
  }
  // tol = 0.015: 0.05² = 0.0025 and 0.1² = 0.01 pass, 0.2² = 0.04 fails.
  CHECK(first_order_holds_up_to(curve, w) == doctest::Approx(0.1));
  // The wrong slope misses at once; a non-monotone miss stops at the first failure.
  CHECK(first_order_holds_up_to(curve, w + 1.0) == 0.0);
  curve[2].delta.mean.mean += 1.0;
  CHECK(first_order_holds_up_to(curve, w) == doctest::Approx(0.05));
  CHECK(std::isnan(first_order_holds_up_to(curve, NAN)));
  CHECK(std::isnan(first_order_holds_up_to({curve[0]}, w)));
}
