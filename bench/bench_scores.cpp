// Exact mixture-score throughput (MixtureScore): score() for 3000 particles drawn from p_t,
// evaluated in chunks the way the sampler calls it (256 particles) and in one call, for the
// empirical swiss roll (3000 point masses, the "ideal" score) and the exact 25-Gaussian
// mixture; and jet(order 3) on batches of 64 points (the likelihood's WKB pass). Times t
// cover the concentrated posterior at t_min, an intermediate and a diffuse one.
// Items = points evaluated; Google Benchmark prints items/s.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "diffpath/dataset.hpp"
#include "diffpath/rng.hpp"
#include "diffpath/score_model.hpp"

namespace {

using namespace diffpath;

const Schedule kSchedule = Schedule::simple();
constexpr double kTimes[] = {0.01, 0.1, 0.5};  // t_min, intermediate, diffuse

const ScoreModel& model_for(const std::string& spec) {
  static std::map<std::string, ScoreModelPtr> cache;
  auto& m = cache[spec];
  if (!m) m = make_score_model(spec, kSchedule);  // n_data = 3000 for empirical data sets
  return *m;
}

// n particles distributed as p_t: α·(data point) + σ·noise.
Points particles(const ScoreModel& model, double t, int n) {
  const auto& data = dynamic_cast<const MixtureScore&>(model).data();
  const Points x0 = data.sample(n, 77);
  Rng rng(78);
  Points x(x0.rows(), n);
  const double alpha = kSchedule.alpha(t), sigma = std::sqrt(kSchedule.sigma2(t));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < x.rows(); ++j) x(j, i) = alpha * x0(j, i) + sigma * rng.normal();
  return x;
}

// Args: chunk size, index into kTimes.
void run_score(benchmark::State& state, const std::string& spec) {
  const ScoreModel& model = model_for(spec);
  const int chunk = int(state.range(0));
  const double t = kTimes[state.range(1)];
  const Points x = particles(model, t, 3000);
  Points out(x.rows(), x.cols()), s;
  for (auto _ : state) {
    for (Eigen::Index b = 0; b < x.cols(); b += chunk) {
      const Eigen::Index m = std::min<Eigen::Index>(chunk, x.cols() - b);
      model.score(x.middleCols(b, m), t, s);
      out.middleCols(b, m) = s;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * x.cols());
  state.SetLabel("t=" + std::to_string(t));
}

void run_jet(benchmark::State& state, const std::string& spec) {
  const ScoreModel& model = model_for(spec);
  const double t = kTimes[state.range(0)];
  const Points x = particles(model, t, 64);
  ScoreJet jet;
  for (auto _ : state) {
    model.jet(x, t, 3, jet);
    benchmark::DoNotOptimize(jet.T.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * x.cols());
  state.SetLabel("t=" + std::to_string(t));
}

void BM_ScoreEmpiricalSwissroll3000(benchmark::State& s) { run_score(s, "exact:swissroll"); }
void BM_ScoreExact25Gaussians(benchmark::State& s) { run_score(s, "exact:25gaussians"); }
void BM_Jet3EmpiricalSwissroll3000(benchmark::State& s) { run_jet(s, "exact:swissroll"); }
void BM_Jet3Exact25Gaussians(benchmark::State& s) { run_jet(s, "exact:25gaussians"); }

void score_args(benchmark::internal::Benchmark* b) {
  for (int t = 0; t < 3; ++t) b->Args({256, t});
  b->Args({3000, 0});
}

BENCHMARK(BM_ScoreEmpiricalSwissroll3000)->Apply(score_args)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ScoreExact25Gaussians)->Apply(score_args)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Jet3EmpiricalSwissroll3000)->DenseRange(0, 2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Jet3Exact25Gaussians)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
