// Sampler throughput (DESIGN §1.3): particle-steps per second of Euler–Maruyama with the exact
// 25-Gaussian mixture score (25 components) and with the empirical score of 3000 training
// points (3000 point masses: the "ideal" score, ~120× more work per evaluation), for 3000
// particles on 1 and 2 threads. Items = particle-steps; Google Benchmark prints items/s, and
// the 2-thread runs report their speed-up over 1 thread as a counter.
#include <benchmark/benchmark.h>

#include <chrono>
#include <map>
#include <string>

#include "diffpath/sampler.hpp"
#include "diffpath/score_model.hpp"

namespace {

using namespace diffpath;

const ScoreModel& model_for(const std::string& spec) {
  static std::map<std::string, ScoreModelPtr> cache;
  auto& m = cache[spec];
  if (!m) m = make_score_model(spec, Schedule::simple());
  return *m;
}

// Items/s of the 1-thread run of each model, measured earlier in the same process.
std::map<std::string, double>& baseline() {
  static std::map<std::string, double> b;
  return b;
}

void run(benchmark::State& state, const std::string& spec, int steps) {
  const ScoreModel& model = model_for(spec);
  SamplerOptions o;
  o.n = 3000;
  o.steps = steps;
  o.eta = 1.0;
  o.threads = int(state.range(0));
  double seconds = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(sample(model, Schedule::simple(), o).samples.data());
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  const double items = double(state.iterations()) * o.n * o.steps;
  state.SetItemsProcessed(int64_t(items));
  const double rate = items / seconds;
  if (o.threads == 1) baseline()[spec] = rate;
  else if (baseline().count(spec)) state.counters["speedup_vs_1_thread"] = rate / baseline()[spec];
}

void BM_SampleExact25Gaussians(benchmark::State& state) { run(state, "exact:25gaussians", 200); }
void BM_SampleEmpirical3000(benchmark::State& state) { run(state, "exact:swissroll", 20); }

BENCHMARK(BM_SampleExact25Gaussians)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SampleEmpirical3000)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
