// NLL(η) of the η-sampler (DESIGN §1.9) for 1000 swiss-roll points × 6 η
// (0, 0.05, 0.1, 0.2, 0.5, 1) on the shipped simple network, 2 threads, at the estimator's
// defaults (likelihood.hpp: 8 paths per point, 256 stochastic Heun steps, half-step rerun on
// 64 points). Issue 8's target is ≤ 60 s. Baseline, measured in the same run: NLL + exact WKB
// (evaluate_likelihood, rtol 1e-5, no error estimate) of the same points: x_nll_wkb = its
// time / ours. Also prints the estimator's own error at each η (mc_se, bias, err) — the
// target is ≤ 0.01 — and the app's passes, 128 points × 6 η (target ≤ 5 s per snapshot).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "diffpath/checkpoint.hpp"
#include "diffpath/dataset.hpp"
#include "diffpath/likelihood.hpp"
#include "shipped_model.hpp"

using namespace diffpath;

namespace {

const ScoreModel& shipped_model() { return shipped_simple_network(); }

double baseline_seconds(const Points& x0) {
  static double seconds = [&] {
    LikelihoodOptions opt;
    opt.threads = 2;
    opt.error_estimate = false;
    return evaluate_likelihood(shipped_model(), Schedule::simple(), x0, opt).seconds;
  }();
  return seconds;
}

void BM_NllEtaSwissroll(benchmark::State& state) {
  const int n = int(state.range(0));
  const Points x0 = make_dataset("swissroll", n, 12345).points;
  EtaLikelihoodOptions opt;
  opt.etas = {0.0, 0.05, 0.1, 0.2, 0.5, 1.0};
  opt.threads = int(state.range(3));
  if (state.range(1) > 0) opt.paths = int(state.range(1));
  if (state.range(2) > 0) opt.steps = int(state.range(2));
  // The app's passes (app/gui/nll_eta_job.cpp): quick (64 steps, no rerun), full (16 rerun).
  if (n == 128) opt.error_points = opt.steps == 64 ? 0 : 16;
  EtaLikelihoodSummary s;
  for (auto _ : state) {
    s = evaluate_likelihood_eta(shipped_model(), Schedule::simple(), x0, opt);
    benchmark::DoNotOptimize(s.n);
  }
  state.counters["seconds"] = s.seconds;
  state.counters["excluded"] = s.excluded;
  if (n == 1000) state.counters["x_nll_wkb"] = baseline_seconds(x0) / s.seconds;
  double worst = 0;
  for (const EtaCurvePoint& c : s.curve) {
    const double own = c.mc_se + std::abs(c.bias) + c.err;
    worst = std::max(worst, own);
    std::fprintf(stderr, "  n %d paths %d steps %d eta %-5g NLL %.4f ± %.3f (spread)  mc_se %.4f  bias %.4f  err %.4f  ess %.1f\n",
                 n, opt.paths, opt.steps, c.eta, c.mean, c.se, c.mc_se, c.bias, c.err, c.ess_median);
  }
  state.counters["worst_own_error"] = worst;
}

}  // namespace

// Args: points, paths (0 = default), steps (0 = default), threads. The defaults, then the
// trade-offs of paths (Monte-Carlo error, Jensen bias ∝ 1/M) against steps (time-step error,
// which dominates at η = 1); the app's quick and full passes on 1 thread (the GUI's other core
// samples).
BENCHMARK(BM_NllEtaSwissroll)
    ->Args({1000, 0, 0, 2})
    ->Args({1000, 32, 128, 2})
    ->Args({1000, 16, 192, 2})
    ->Args({128, 8, 64, 1})
    ->Args({128, 0, 0, 1})
    ->Args({128, 0, 0, 2})
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

BENCHMARK_MAIN();
