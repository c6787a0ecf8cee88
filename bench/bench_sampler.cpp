// Sampler throughput (DESIGN §1.3): particle-steps per second of Euler–Maruyama with the exact
// 25-Gaussian mixture score (25 components), with the empirical score of 3000 training
// points (3000 point masses: the "ideal" score, ~120× more work per evaluation), and with the
// paper's score network (3→128→128→128→2, swish, float evaluation), for 3000 particles on 1
// and 2 threads. Items = particle-steps; Google Benchmark prints items/s, the 2-thread runs
// report their speed-up over 1 thread, and the MLP runs their ratio to PyTorch's CPU build
// (about 190,000 particle-steps/s for the same network and 3000 particles on this machine,
// Debian's PyTorch 1.13 on OpenBLAS; issue 3).
#include <benchmark/benchmark.h>

#include <chrono>
#include <map>
#include <string>

#include "diffpath/mlp.hpp"
#include "diffpath/sampler.hpp"
#include "diffpath/score_model.hpp"

namespace {

using namespace diffpath;

constexpr double kPytorchParticleStepsPerSecond = 190000.0;

const ScoreModel& model_for(const std::string& spec) {
  static std::map<std::string, ScoreModelPtr> cache;
  auto& m = cache[spec];
  if (!m && spec == "mlp")  // random weights: the cost does not depend on their values
    m = std::make_shared<Mlp>(MlpParams::init(2, {128, 128, 128}, Activation::Swish, 0));
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
  if (spec == "mlp") state.counters["ratio_vs_pytorch"] = rate / kPytorchParticleStepsPerSecond;
}

void BM_SampleExact25Gaussians(benchmark::State& state) { run(state, "exact:25gaussians", 200); }
void BM_SampleEmpirical3000(benchmark::State& state) { run(state, "exact:swissroll", 20); }
void BM_SampleMlpPaperNetwork(benchmark::State& state) { run(state, "mlp", 100); }

BENCHMARK(BM_SampleExact25Gaussians)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SampleEmpirical3000)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SampleMlpPaperNetwork)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
