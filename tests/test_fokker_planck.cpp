// The 2D Fokker–Planck solver of the η-model (core/include/diffpath/fokker_planck.hpp) against
// ground truth (DESIGN §1.7, §1.10): the closed-form Gaussian η-model, the exact score, the
// exact PF-ODE likelihood and WKB coefficient of a trained network, and the CLI end to end.
// Grids here are small (the 256² numbers are in bench/bench_fokker_planck.cpp).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "diffpath/checkpoint.hpp"
#include "diffpath/dataset.hpp"
#include "diffpath/fokker_planck.hpp"
#include "diffpath/ground_truth.hpp"
#include "diffpath/likelihood.hpp"
#include "diffpath/score_model.hpp"
#include "diffpath/stats.hpp"
#include "run_command.hpp"

using namespace diffpath;
namespace fs = std::filesystem;

namespace {

// Data N(0.7, 0.3 I) in 2D with a wrong linear score (10 % too wide, shifted by 0.1): the
// η-model is N(μ, P I) at Tmin, μ and P from gaussian_final.
GaussianScoreParams wrong_gaussian() {
  GaussianScoreParams p;
  p.d = 2;
  p.m = 0.7;
  p.v = 0.3;
  p.eps = 0.1;
  p.delta = 0.1;
  return p;
}

const std::vector<double> kEtas = {0.0, 0.1, 0.5, 1.0};

// sup over the cell centres in the data's 3σ disc |x − m| ≤ 3√v of |log q_grid − log q_exact|.
double sup_error(const FokkerPlanckResult& r, int e, const GaussianScoreParams& p,
                 const Schedule& sc) {
  const GaussianFinal gf = gaussian_final(p, sc, r.etas[e]);
  const double mu = gf.moments.mean, P = gf.moments.var;
  double worst = 0;
  for (int i = 0; i < r.n; ++i)
    for (int j = 0; j < r.n; ++j) {
      const double x = r.cell_center(i), y = r.cell_center(j);
      if (std::hypot(x - p.m, y - p.m) > 3 * std::sqrt(p.v)) continue;
      const double exact =
          -std::log(2 * M_PI * P) - ((x - mu) * (x - mu) + (y - mu) * (y - mu)) / (2 * P);
      worst = std::max(worst, std::abs(r.grids[e][0].log_q(i, j) - exact));
    }
  return worst;
}

FokkerPlanckResult solve_gaussian(int grid, const std::vector<double>& etas,
                                  const GaussianScoreParams& p) {
  const Schedule sc = Schedule::simple();
  const GaussianScore model(p, sc);
  FokkerPlanckOptions o;
  o.grid = grid;
  o.extent = 5.0;  // N(0, I) mass outside [−5, 5]² is 6e-7; the model's law is well inside
  o.etas = etas;
  o.threads = 2;
  return solve_fokker_planck(model, sc, o);
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("Gaussian data, wrong linear score: the grid's log q^eta at Tmin is the closed form, "
          "third order under refinement, mass 1, q >= 0") {
  // Two grids, h = 10/48 and 10/96 (the data's σ = 0.55 is 2.6 and 5.3 cells). Measured
  // sup errors over the 3σ disc (see MESSAGE): the finer grid within 7e-3, and the error falls
  // by 7.5–10 per halving (order 2.9–3.4: third-order face values and fourth-order diffusion;
  // the 5-point Laplacian gave order 1.8 at η = 1). The tolerances leave a factor ~1.5.
  const GaussianScoreParams p = wrong_gaussian();
  const Schedule sc = Schedule::simple();
  const FokkerPlanckResult coarse = solve_gaussian(48, kEtas, p);
  const FokkerPlanckResult fine = solve_gaussian(96, kEtas, p);
  for (int e = 0; e < int(kEtas.size()); ++e) {
    CAPTURE(kEtas[e]);
    const double ec = sup_error(coarse, e, p, sc), ef = sup_error(fine, e, p, sc);
    const double order = std::log2(ec / ef);
    MESSAGE("eta " << kEtas[e] << ": sup |log q - exact| over the 3 sigma disc: " << ec
                   << " (48^2), " << ef << " (96^2), order " << order << "; substeps "
                   << fine.reports[e].substeps << ", max |mass - 1| "
                   << fine.reports[e].max_mass_error << ", min q " << fine.reports[e].min_q);
    CHECK(ef < 1e-2);
    CHECK(order > 2.5);
    for (const FokkerPlanckResult* r : {&coarse, &fine}) {
      const EtaReport& rep = r->reports[e];
      CHECK(rep.max_mass_error < 1e-6);
      CHECK(rep.min_q > -1e-12);          // only round-off ever goes below 0
      CHECK(rep.clipped_mass < 1e-10);
      // Smooth: the fourth-order kernel everywhere (48² has a few steep corner cells at η = 1).
      if (r == &fine) CHECK(rep.heat_fallbacks == 0);
      CHECK(std::abs(r->grids[e][0].mass - 1.0) < 1e-6);
      CHECK(r->grids[e][0].resolved);
    }
  }
  // The score cache: one set of score nodes for all four η.
  CHECK(fine.score_evaluations < 200);
}

TEST_CASE("exact score: every eta gives the same density (up to the prior's mismatch)") {
  // With s = ∇log p_t every η-model has the marginals p_t — if it starts from p_Tmax. The
  // solver starts from N(0, I), and p_Tmax = N(0.7 α, 1 − 0.7 α²) (α(1) = e^-5), so the
  // η-models differ by how each carries that small mismatch down to Tmin: the closed form
  // N(μ_η, P_η) says how much. The grid must reproduce each η's law and their differences.
  GaussianScoreParams p = wrong_gaussian();
  p.eps = p.delta = 0.0;
  const Schedule sc = Schedule::simple();
  const GaussianScore model(p, sc);
  FokkerPlanckOptions o;
  o.grid = 96;
  o.extent = 5.0;
  o.etas = {0.0, 0.5, 1.0};
  o.threads = 2;
  const FokkerPlanckResult r = solve_fokker_planck(model, sc, o);
  auto exact = [&](int e, double x, double y) {
    const GaussianMoments m = gaussian_final(p, sc, o.etas[e]).moments;
    return -std::log(2 * M_PI * m.var) - ((x - m.mean) * (x - m.mean) + (y - m.mean) * (y - m.mean)) / (2 * m.var);
  };
  for (double radius : {1.0, 3.0}) {
    double worst = 0, worst_diff = 0, exact_diff = 0;
    for (int i = 0; i < r.n; ++i)
      for (int j = 0; j < r.n; ++j) {
        const double x = r.cell_center(i), y = r.cell_center(j);
        if (std::hypot(x - p.m, y - p.m) > radius * std::sqrt(p.v)) continue;
        for (int e = 0; e < 3; ++e) {
          worst = std::max(worst, std::abs(r.grids[e][0].log_q(i, j) - exact(e, x, y)));
          const double d_grid = r.grids[e][0].log_q(i, j) - r.grids[0][0].log_q(i, j);
          const double d_exact = exact(e, x, y) - exact(0, x, y);
          exact_diff = std::max(exact_diff, std::abs(d_exact));
          worst_diff = std::max(worst_diff, std::abs(d_grid - d_exact));
        }
      }
    MESSAGE("data's " << radius << " sigma disc, 96^2 on [-5, 5]^2: sup |log q - exact| = " << worst
                      << "; |(log q^eta - log q^0) - exact difference| = " << worst_diff
                      << " (the exact difference itself, from the prior: up to " << exact_diff << ")");
    // Here P ≈ v: the 3σ rim is 3 of the model's σ out (5.3 cells each), where a second-order
    // scheme's relative error is ~(x/σ)³ (h/σ)² larger than at the centre.
    // Measured: 2.9e-3 / 3.8e-3 (1σ), 1.3e-2 / 1.8e-2 (3σ).
    CHECK(worst < (radius < 2 ? 6e-3 : 3e-2));
    CHECK(worst_diff < (radius < 2 ? 6e-3 : 3e-2));
  }
}

TEST_CASE("25 Gaussians at Tmin: reported unresolved, while t = 0.5 is resolved") {
  const Schedule sc = Schedule::simple();
  const ScoreModelPtr model = make_score_model("exact:25gaussians", sc);
  FokkerPlanckOptions o;
  o.grid = 64;
  o.extent = 4.0;
  o.etas = {0.0};
  o.times = {0.5, sc.t_min};
  o.threads = 2;
  const FokkerPlanckResult r = solve_fokker_planck(*model, sc, o);
  MESSAGE("25 Gaussians, 64^2 on [-4, 4]^2 (cell " << r.h << "): at Tmin "
                                                  << 100 * r.grids[0][1].unresolved_mass
                                                  << " % of the mass unresolved, width q05 "
                                                  << r.grids[0][1].width_q05);
  CHECK(r.resolved(0));
  CHECK_FALSE(r.resolved(1));
  CHECK(r.grids[0][1].unresolved_mass > 0.5);
  // The modes: std √(0.05²/2.828² + σ²(Tmin)) ≈ 0.036.
  CHECK(r.grids[0][1].width_q05 == doctest::Approx(0.036).epsilon(0.15));
}

TEST_CASE("bad options are errors") {
  const Schedule sc = Schedule::simple();
  GaussianScoreParams p1;
  p1.d = 1;
  const GaussianScore one_d(p1, sc);
  CHECK_THROWS_AS(solve_fokker_planck(one_d, sc, {}), Error);
  const GaussianScore two_d(wrong_gaussian(), sc);
  FokkerPlanckOptions o;
  o.grid = 16;
  o.etas = {1.5};
  CHECK_THROWS_AS(solve_fokker_planck(two_d, sc, o), Error);
  o.etas = {0.0};
  o.times = {2.0};
  CHECK_THROWS_AS(solve_fokker_planck(two_d, sc, o), Error);
}

TEST_CASE("cancel stops the solve") {
  const Schedule sc = Schedule::simple();
  const GaussianScore model(wrong_gaussian(), sc);
  FokkerPlanckOptions o;
  o.grid = 32;
  std::atomic<bool> cancel{true};
  const FokkerPlanckResult r = solve_fokker_planck(model, sc, o, &cancel);
  CHECK(r.cancelled);
}

namespace {

// The shipped simple swiss-roll network, and the grid both of its checks use: 192² on
// [−3, 3]², cell 0.031 — the roll's width at Tmin ≈ 0.08 is 2.5 cells.
ScoreModelPtr shipped_network() {
  const std::string path = std::string(DIFFPATH_SOURCE_DIR) + "/assets/swissroll-simple.safetensors";
  REQUIRE(fs::exists(path));
  return load_mlp_model(path);
}

FokkerPlanckOptions roll_grid(std::vector<double> etas) {
  FokkerPlanckOptions o;
  o.grid = 192;
  o.extent = 3.0;
  o.etas = std::move(etas);
  o.node_tol = 2e-3;  // the network's score is rough in t; this halves the score nodes
  o.threads = 2;
  return o;
}

}  // namespace

TEST_CASE("steep tails against the walls: q >= 0 everywhere, no mass lost (the 5-point kernel "
          "where the fourth-order one's negative lobes bite)") {
  // The app's overlay case: the window's domain [−2.5, 2.5]² cuts the prior, and at η = 1 the
  // density falls by orders of magnitude per cell against the walls. The fourth-order heat
  // kernel alone left cells at −inf there (clipped negatives, mass lost).
  const ScoreModelPtr model = shipped_network();
  FokkerPlanckOptions o;
  o.grid = 48;
  o.extent = 2.5;
  o.etas = {1.0};
  o.times = {0.05};
  o.node_tol = 2e-3;
  o.threads = 2;
  const FokkerPlanckResult r = solve_fokker_planck(*model, Schedule::simple(), o);
  const EtaReport& rep = r.reports[0];
  MESSAGE("heat applications " << rep.diffusion_steps << ", of which " << rep.heat_fallbacks
                               << " used the 5-point kernel in steep cells");
  CHECK(rep.heat_fallbacks > 0);   // the case does exercise the fallback
  CHECK(rep.min_q >= 0.0);
  CHECK(rep.clipped_mass == 0.0);
  CHECK(rep.max_mass_error < 1e-12);
  CHECK(r.grids[0][0].log_q.allFinite());
}

TEST_CASE("trained swiss-roll network: NLL(0) from the grid is the PF-ODE NLL, the eta-slope at 0 "
          "is E[-c]") {
  const ScoreModelPtr model = shipped_network();
  const Schedule sc = Schedule::simple();
  // A small η, so the difference quotient is the tangent (c is heavy-tailed: its large
  // values belong to log q^η that bend away from the line within η ~ 0.01).
  const double h_eta = 0.005;
  const FokkerPlanckResult r = solve_fokker_planck(*model, sc, roll_grid({0.0, h_eta}));
  REQUIRE(r.resolved(0));
  const Points x0 = make_dataset("swissroll", 200, 7).points;
  LikelihoodOptions lo;
  lo.rtol = lo.atol = 1e-6;
  lo.error_estimate = false;
  lo.threads = 2;
  const LikelihoodSummary lk = evaluate_likelihood(*model, sc, x0, lo);
  // Paired per-point differences (the same points): grid − PF-ODE for the NLL, and the grid's
  // difference quotient (log q^h − log q^0)/h against c.
  std::vector<double> d_nll, slope, c;
  for (int k = 0; k < x0.cols(); ++k) {
    if (!lk.points[k].ok) continue;
    const double l0 = r.log_density(0, 0, x0(0, k), x0(1, k));
    const double l1 = r.log_density(1, 0, x0(0, k), x0(1, k));
    if (!std::isfinite(l0) || !std::isfinite(l1)) continue;
    d_nll.push_back(-l0 - lk.points[k].nll);
    slope.push_back(-(l1 - l0) / h_eta);
    c.push_back(-lk.points[k].c);
  }
  REQUIRE(d_nll.size() > 150);
  const MeanSe dn = mean_se(d_nll), sg = mean_se(slope), cc = mean_se(c);
  MESSAGE("medians: slope grid " << median(slope) << ", -c " << median(c));
  std::vector<double> diff(slope.size());
  for (size_t k = 0; k < slope.size(); ++k) diff[k] = slope[k] - c[k];
  const MeanSe ds = mean_se(diff);
  MESSAGE("swiss roll, simple, 192^2 on [-3,3]^2, " << r.score_evaluations
          << " score nodes, " << r.seconds << " s: NLL grid - PF-ODE = " << dn.mean << " ± "
          << dn.se << " (PF-ODE NLL " << lk.nll_mean << "); slope grid " << sg.mean << " ± "
          << sg.se << " vs E[-c] " << cc.mean << " ± " << cc.se << ", paired difference "
          << ds.mean << " ± " << ds.se);
  CHECK(std::abs(dn.mean) < 0.05);
  CHECK(std::abs(ds.mean) < 3 * ds.se + 0.1 * std::abs(cc.mean) + 0.05);
}

TEST_CASE("trained swiss-roll network: NLL(eta) from the grid equals the importance-sampling "
          "estimator at eta = 0.1, 0.5, 1") {
  // Two methods that share no code: the η-model's Fokker–Planck PDE on a grid (§1.10) and
  // Feynman–Kac paths with Girsanov weights (§1.9). Compared per point on the change
  // Δ(η) = −log q^η + log q⁰ (the grid's own discretization error at Tmin, ~0.01–0.05 nats,
  // largely cancels in it), paired over the same 200 points.
  const ScoreModelPtr model = shipped_network();
  const Schedule sc = Schedule::simple();
  const FokkerPlanckOptions o = roll_grid({0.0, 0.1, 0.5, 1.0});
  const FokkerPlanckResult r = solve_fokker_planck(*model, sc, o);
  REQUIRE(r.resolved(0));
  const Points x0 = make_dataset("swissroll", 200, 7).points;
  EtaLikelihoodOptions eo;
  eo.etas = o.etas;
  eo.threads = 2;
  eo.error_points = -1;  // the time-step error on every point
  const EtaLikelihoodSummary es = evaluate_likelihood_eta(*model, sc, x0, eo);
  for (size_t k = 1; k < o.etas.size(); ++k) {
    CAPTURE(o.etas[k]);
    std::vector<double> diff, grid_delta;
    for (int p = 0; p < x0.cols(); ++p) {
      const EtaPoint& ep = es.points[size_t(p)];
      const double g0 = r.log_density(0, 0, x0(0, p), x0(1, p));
      const double gk = r.log_density(int(k), 0, x0(0, p), x0(1, p));
      if (!ep.ok || !std::isfinite(g0) || !std::isfinite(gk)) continue;
      const double est = -(ep.at[k].log_q - ep.at[0].log_q), grid = -(gk - g0);
      diff.push_back(grid - est);
      grid_delta.push_back(grid);
    }
    REQUIRE(diff.size() > 180);
    const MeanSe d = mean_se(diff);
    const EtaCurvePoint& c = es.curve[k];
    const double own = c.mc_se + std::abs(c.bias) + c.err;  // the estimator's own error
    MESSAGE("eta " << o.etas[k] << ": ΔNLL grid " << mean_se(grid_delta).mean << ", estimator "
            << c.delta.mean.mean << "; paired difference " << d.mean << " ± " << d.se
            << " (estimator's own error " << own << ")");
    // 3 standard errors of the paired difference, the estimator's own error, and 0.02 nats
    // for the grid (its NLL(0) differs from the PF-ODE's by up to ~0.05, the change less).
    CHECK(std::abs(d.mean) < 3 * d.se + own + 0.02);
  }
}

TEST_CASE("diffpath-cli density: grids, PNGs, NLL(eta) JSON, and refusals") {
  const fs::path dir = fs::temp_directory_path() / "diffpath-test-density";
  fs::remove_all(dir);
  const std::string cli = DIFFPATH_CLI;
  const std::string score = "gaussian:d=2,m=0.7,v=0.3,eps=0.1,delta=0.1";
  const auto [out, code] =
      run(cli + " density --score " + score + " --eta 0,0.5 --grid 48 --extent 5 --t 0.5,0.01" +
          " --out " + dir.string() + " --data gaussian:d=2,m=0.7,v=0.3 --n 300 --seed 3 --json --threads 2");
  REQUIRE(code == 0);
  const auto j = nlohmann::json::parse(out);
  for (const std::string eta : {"0", "0.5"}) {
    CAPTURE(eta);
    for (const std::string t : {"0.5", "0.01"}) {
      const std::string stem = "density_eta" + eta + "_t" + t;
      CHECK(fs::exists(dir / (stem + ".csv")));
      CHECK(fs::exists(dir / (stem + ".png")));
    }
    const double mean = j["eta"][eta]["mean"], se = j["eta"][eta]["se"];
    // Against the closed form: E over the data of −log q^η, up to the sample's own error.
    GaussianScoreParams p = wrong_gaussian();
    const double exact = gaussian_nll(p, Schedule::simple(), std::stod(eta));
    MESSAGE("eta " << eta << ": NLL grid " << mean << " ± " << se << ", closed form (expectation) " << exact);
    CHECK(std::abs(mean - exact) < 4 * se + 0.02);
  }
  const std::string csv = read_text(dir / "density_eta0_t0.01.csv");
  CHECK(csv.rfind("x,y,log_q", 0) == 0);
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 48 * 48 + 1);
  CHECK(j["grids"].size() == 4);
  for (const auto& s : j["solver"]) CHECK(s["max_mass_error"].get<double>() < 1e-6);
  fs::remove_all(dir);

  // The 25 Gaussians at Tmin on a coarse grid: refused with a reason, not a number.
  CHECK(run(cli + " density --score exact:25gaussians --data 25gaussians --n 50 --grid 32 --quiet").second != 0);
  CHECK(run(cli + " density --score " + score + " --eta 2 --out " + dir.string()).second != 0);
  CHECK(run(cli + " density --score gaussian:m=0,v=1 --out " + dir.string()).second != 0);  // 1D
  CHECK(run(cli + " density --score " + score).second != 0);  // nothing to do
  CHECK(run(cli + " density --help").second == 0);
}
