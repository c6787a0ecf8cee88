// The η-sampler (DESIGN §1.3): samples of exact scores land where the data are, the Gaussian
// case matches the exact moments of the Euler–Maruyama chain, runs are reproducible and
// independent of threads, trajectories move continuously with η (common random numbers),
// cancel and progress work, bad options are errors.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "run_command.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "diffpath/dataset.hpp"
#include "diffpath/ground_truth.hpp"
#include "diffpath/io.hpp"
#include "diffpath/sampler.hpp"
#include "diffpath/score_model.hpp"
#include "diffpath/transport.hpp"

using namespace diffpath;

namespace {

struct ModeStats {
  double fraction_near = 0;   // fraction of samples within `radius` of a (shrunk) centre
  double chi2 = 0;            // Pearson χ² of the per-mode counts against uniform (24 dof)
};

// 25gaussians: centres (2i, 2j)/2.828. At Tmin the exact p_Tmin has its modes at α(Tmin)·c
// with per-coordinate std √(α² 0.0177² + σ²(Tmin)).
ModeStats mode_stats(const Points& x, const Schedule& s) {
  const double alpha = s.alpha(s.t_min), scale = 2.828;
  const double std_t = std::sqrt(alpha * alpha * std::pow(0.05 / scale, 2) + s.sigma2(s.t_min));
  const double radius = 4 * std_t;  // a 2D Gaussian puts 1 − e⁻⁸ ≈ 99.97 % inside 4 std
  std::vector<int> counts(25, 0);
  int near = 0;
  for (Eigen::Index p = 0; p < x.cols(); ++p) {
    // nearest centre by rounding each coordinate to the lattice
    const int i = std::clamp(int(std::lround(x(0, p) * scale / (2 * alpha))), -2, 2);
    const int j = std::clamp(int(std::lround(x(1, p) * scale / (2 * alpha))), -2, 2);
    const double dx = x(0, p) - alpha * 2 * i / scale, dy = x(1, p) - alpha * 2 * j / scale;
    if (std::hypot(dx, dy) < radius) {
      ++near;
      ++counts[(i + 2) * 5 + (j + 2)];
    }
  }
  ModeStats st;
  st.fraction_near = double(near) / double(x.cols());
  const double expected = near / 25.0;
  for (int c : counts) st.chi2 += (c - expected) * (c - expected) / expected;
  return st;
}

}  // namespace

TEST_CASE("exact 25gaussians: samples land on the 25 modes for eta = 0, 0.5, 1 and Heun") {
  const Schedule s = Schedule::simple();
  const ScoreModelPtr model = make_score_model("exact:25gaussians", s);
  // Baseline: W2² between two independent sets of 1000 data points (mode-count fluctuations
  // and the small Tmin blur dominate; ≈ 0.01–0.02). Exact OT, so no tolerance of a solver.
  const int n = 1000;
  const Points fresh = make_dataset("25gaussians", n, 101).points;
  const double baseline = w2_squared(make_dataset("25gaussians", n, 202).points, fresh);
  MESSAGE("W2^2 data vs data: " << baseline);

  struct Case { double eta; Solver solver; };
  for (Case c : {Case{0.0, Solver::EulerMaruyama}, Case{0.5, Solver::EulerMaruyama},
                 Case{1.0, Solver::EulerMaruyama}, Case{0.0, Solver::Heun}}) {
    CAPTURE(c.eta);
    CAPTURE(int(c.solver));
    SamplerOptions o;
    o.eta = c.eta;
    o.solver = c.solver;
    o.n = n;
    o.steps = 1000;
    o.seed = 7;
    const SampleResult r = sample(*model, s, o);
    REQUIRE(r.samples.allFinite());
    const ModeStats st = mode_stats(r.samples, s);
    // Exact score: every particle should sit in a mode; allow 1 % for EM error near the
    // saddles between modes and the 0.03 % Gaussian tail outside 4 std.
    CHECK(st.fraction_near > 0.99);
    // χ² with 24 degrees of freedom: mean 24, P(χ² > 60) ≈ 6e-5 for balanced modes.
    CHECK(st.chi2 < 60);
    const double w2 = w2_squared(r.samples, fresh);
    MESSAGE("eta " << c.eta << " solver " << int(c.solver) << ": W2^2 " << w2 << ", near "
                   << st.fraction_near << ", chi2 " << st.chi2);
    // Same statistics as data vs data: the spread of W2² between data sets of this size is
    // about ±30 %; a sampler that misses or unbalances modes is off by several times.
    CHECK(w2 < 1.5 * baseline + 0.005);
  }
}

TEST_CASE("Gaussian data: sample moments match the exact Euler-Maruyama chain") {
  // A linear model makes every EM iterate Gaussian with moments given by a recursion
  // (gaussian_em_final), so the only difference left is Monte-Carlo noise: 4 standard errors.
  const GaussianScoreParams p{.d = 1, .m = 0.6, .v = 0.2, .eps = 0.25, .delta = -0.1};
  for (const Schedule& s : {Schedule::simple(), Schedule::cosine()}) {
    const GaussianScore model(p, s);
    for (double eta : {0.0, 0.3, 0.7, 1.0}) {
      CAPTURE(s.spec());
      CAPTURE(eta);
      SamplerOptions o;
      o.eta = eta;
      o.n = 40000;
      o.steps = 200;
      o.seed = 3;
      o.record_action = false;
      const Points x = sample(model, s, o).samples;
      const double mean = x.mean(), var = (x.array() - mean).square().sum() / (o.n - 1);
      const GaussianMoments em = gaussian_em_final(p, s, eta, o.steps);
      CHECK(std::abs(mean - em.mean) < 4 * std::sqrt(em.var / o.n));
      CHECK(std::abs(var - em.var) < 4 * em.var * std::sqrt(2.0 / o.n));
    }
  }
}

TEST_CASE("Heun is second order: PF-ODE samples of a Gaussian match the exact ODE moments") {
  // For η = 0 every particle follows the same affine flow, so the sample variance is exactly
  // the prior sample variance times the flow's squared slope: compare the ratio, free of
  // Monte-Carlo noise. Heun's error with 200 steps is O(h²) ~ 1e-4 relative.
  const GaussianScoreParams p{.d = 1, .m = 0.6, .v = 0.2, .eps = 0.25, .delta = -0.1};
  const Schedule s = Schedule::simple();
  const GaussianScore model(p, s);
  SamplerOptions o;
  o.eta = 0;
  o.solver = Solver::Heun;
  o.n = 2000;
  o.seed = 5;
  const GaussianFinal exact = gaussian_final(p, s, 0.0);
  double prev_err = 0;
  for (int steps : {100, 200}) {
    o.steps = steps;
    const Points x = sample(model, s, o).samples, x0 = prior_samples(1, o.n, o.seed);
    // Affine map x → μ + √P x (the prior has mean 0 and variance 1 exactly in the ODE).
    const double slope = (x(0, 1) - x(0, 0)) / (x0(0, 1) - x0(0, 0));
    const double offset = x(0, 0) - slope * x0(0, 0);
    const double err = std::abs(slope * slope - exact.moments.var) / exact.moments.var +
                       std::abs(offset - exact.moments.mean);
    CHECK(err < 1e-3);
    if (prev_err > 0) CHECK(err < 0.35 * prev_err);  // halving h: ≈ 1/4 for second order
    prev_err = err;
  }
}

TEST_CASE("determinism: same seed gives identical runs, threads do not matter") {
  const Schedule s = Schedule::simple();
  const ScoreModelPtr model = make_score_model("exact:25gaussians", s);
  SamplerOptions o;
  o.eta = 0.4;
  o.n = 700;  // 3 chunks of 256: uneven split across threads
  o.steps = 100;
  o.seed = 42;
  o.stride = 25;
  o.threads = 1;
  const SampleResult a = sample(*model, s, o);
  const SampleResult b = sample(*model, s, o);
  o.threads = 2;
  const SampleResult c = sample(*model, s, o);
  o.threads = 3;
  const SampleResult d = sample(*model, s, o);
  CHECK(a.samples == b.samples);
  CHECK(a.samples == c.samples);
  CHECK(a.samples == d.samples);
  CHECK(a.action == c.action);
  REQUIRE(a.frames.size() == c.frames.size());
  for (size_t f = 0; f < a.frames.size(); ++f) CHECK(a.frames[f] == c.frames[f]);

  // Frames: every 25 steps from 0, the last step included; frame 0 is the prior.
  CHECK(a.frame_steps == std::vector<int>{0, 25, 50, 75, 100});
  CHECK(a.frame_times.front() == s.t_max);
  CHECK(a.frame_times.back() == s.t_min);
  CHECK(a.frames.front() == prior_samples(2, o.n, o.seed));
  CHECK(a.frames.back() == a.samples);

  o.seed = 43;
  CHECK(sample(*model, s, o).samples != a.samples);
  o.stride = 0;
  const SampleResult only_final = sample(*model, s, o);
  CHECK(only_final.frame_steps == std::vector<int>{100});
  CHECK(only_final.frames.size() == 1);
}

TEST_CASE("common random numbers: trajectories move continuously with eta") {
  // The EM map is smooth in η for η > 0 (the noise enters as √η), so particle displacements
  // between η and η + δ are linear in δ. A few particles that start near a separatrix between
  // modes have large derivatives (max/δ ≈ 30 here against a median of 0.1), so the maximum is
  // linear only once δ ≲ 1e-5; the median already is at δ = 1e-3. At η = 0 the map goes like
  // √δ, and the PF-ODE's basin boundaries let a few particles switch modes for δ ≳ 1e-7, so
  // there the median is the meaningful measure.
  const Schedule s = Schedule::simple();
  const ScoreModelPtr model = make_score_model("exact:25gaussians", s);
  SamplerOptions o;
  o.n = 500;
  o.steps = 500;
  o.seed = 9;
  o.record_action = false;
  auto displacement = [&](double eta, double delta) {
    o.eta = eta;
    const Points a = sample(*model, s, o).samples;
    o.eta = eta + delta;
    Vec d = (sample(*model, s, o).samples - a).colwise().norm().transpose();
    std::sort(d.begin(), d.end());
    return std::pair{d(d.size() - 1), d(d.size() / 2)};  // max, median
  };
  const auto [max3, median3] = displacement(0.5, 1e-3);
  const auto [max4, median4] = displacement(0.5, 1e-4);
  const auto [max5, median5] = displacement(0.5, 1e-5);
  const auto [max6, median6] = displacement(0.5, 1e-6);
  MESSAGE("eta 0.5: max " << max3 << " " << max4 << " " << max5 << " " << max6 << ", median "
                          << median3 << " " << median4);
  CHECK(max3 < 50 * 1e-3);  // O(δ): no particle jumps to another mode
  CHECK(max5 / max6 == doctest::Approx(10).epsilon(0.05));
  CHECK(median3 / median4 == doctest::Approx(10).epsilon(0.05));
  CHECK(median5 / median6 == doctest::Approx(10).epsilon(0.05));

  const auto [zmax4, zmedian4] = displacement(0.0, 1e-4);
  const auto [zmax6, zmedian6] = displacement(0.0, 1e-6);
  MESSAGE("eta 0: median " << zmedian4 << " " << zmedian6 << " (max " << zmax4 << ")");
  CHECK(zmedian4 / zmedian6 == doctest::Approx(10).epsilon(0.1));  // √100
  CHECK(zmedian4 < 0.02);
}

TEST_CASE("progress runs on the calling thread, reaches 1, and cancel stops a run") {
  const Schedule s = Schedule::simple();
  const ScoreModelPtr model = make_score_model("exact:25gaussians", s);
  SamplerOptions o;
  o.n = 1200;
  o.steps = 400;
  o.threads = 2;
  const auto caller = std::this_thread::get_id();
  bool all_on_caller = true, monotone = true;
  double last = -1;
  const SampleResult full = sample(*model, s, o, nullptr, [&](double f) {
    all_on_caller = all_on_caller && std::this_thread::get_id() == caller;
    monotone = monotone && f >= last && f <= 1.0;
    last = f;
  });
  CHECK_FALSE(full.cancelled);
  CHECK(all_on_caller);
  CHECK(monotone);
  CHECK(last == 1.0);

  std::atomic<bool> cancel{false};
  double at_cancel = 0;
  const SampleResult stopped = sample(*model, s, o, &cancel, [&](double f) {
    if (f > 0.2 && !cancel) {
      at_cancel = f;
      cancel = true;
    }
    last = f;
  });
  CHECK(stopped.cancelled);
  CHECK(at_cancel > 0.2);
  CHECK(last < 0.6);  // stopped within a step per chunk, not at the end

  cancel = true;  // cancelled before it starts
  CHECK(sample(*model, s, o, &cancel).cancelled);
}

TEST_CASE("bad options are errors") {
  const Schedule s = Schedule::simple();
  const GaussianScore model({.d = 1}, s);
  auto with = [](auto change) {
    SamplerOptions o;
    o.n = 10;
    o.steps = 10;
    change(o);
    return o;
  };
  CHECK_THROWS_AS(sample(model, s, with([](auto& o) { o.eta = -0.1; })), Error);
  CHECK_THROWS_AS(sample(model, s, with([](auto& o) { o.eta = 1.01; })), Error);
  CHECK_THROWS_AS(sample(model, s, with([](auto& o) { o.eta = std::nan(""); })), Error);
  CHECK_THROWS_AS(sample(model, s, with([](auto& o) { o.steps = 0; })), Error);
  CHECK_THROWS_AS(sample(model, s, with([](auto& o) { o.n = 0; })), Error);
  CHECK_THROWS_AS(sample(model, s, with([](auto& o) { o.stride = -1; })), Error);
  CHECK_THROWS_AS(sample(model, s, with([](auto& o) {
                    o.solver = Solver::Heun;
                    o.eta = 0.5;
                  })),
                  Error);
  CHECK_NOTHROW(sample(model, s, with([](auto& o) { o.eta = 0.0; })));
}

TEST_CASE("diffpath-cli sample writes samples and trajectories, identical to the library") {
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("diffpath-test-sampler-" + std::to_string(getpid()))).string();
  std::filesystem::create_directories(dir);
  const std::string samples = dir + "/s.csv", traj = dir + "/t.csv";
  const auto [out, rc] = run(std::string(DIFFPATH_CLI) +
                             " sample --score exact:25gaussians --schedule simple --eta 0.5"
                             " --n 300 --steps 60 --seed 4 --out " + samples +
                             " --trajectories " + traj + " --stride 20 --json");
  REQUIRE(rc == 0);
  const auto j = nlohmann::json::parse(out);
  SamplerOptions o;
  o.eta = 0.5;
  o.n = 300;
  o.steps = 60;
  o.seed = 4;
  o.stride = 20;
  const Schedule s = Schedule::simple();
  const SampleResult r = sample(*make_score_model("exact:25gaussians", s), s, o);
  CHECK(read_points_csv(samples) == r.samples);  // %.17g round trip
  CHECK(j["mean_action"].get<double>() == doctest::Approx(r.action.mean()).epsilon(1e-12));
  CHECK(j["n"] == 300);
  // Long format: header + one row per particle and frame (steps 0, 20, 40, 60).
  std::ifstream in(traj);
  std::string header, line;
  std::getline(in, header);
  CHECK(header == "particle,step,t,x,y,action");
  int rows = 0;
  while (std::getline(in, line)) ++rows;
  CHECK(rows == 300 * 4);

  CHECK(run(std::string(DIFFPATH_CLI) + " sample --score exact:nope --out " + samples).second != 0);
  CHECK(run(std::string(DIFFPATH_CLI) + " sample --score exact:25gaussians --eta 2 --out " +
            samples).second != 0);
  CHECK(run(std::string(DIFFPATH_CLI) + " sample --score exact:25gaussians --solver heun --out " +
            samples).second != 0);
  std::filesystem::remove_all(dir);
}
