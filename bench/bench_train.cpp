// Training throughput: Adam steps/s of denoising score matching for the paper's network
// (3 → 128 → 128 → 128 → 2, swish) at batch 512 on the swiss roll, 1 and 2 threads.
// Counters: steps/s (wall clock), GFLOP/s of the GEMMs (forward W·h, backward δ·hᵀ and Wᵀ·δ; activations
// and Adam not counted), and the ratio to PyTorch 1.13's CPU build on this machine
// (86 steps/s, measured with Debian's OpenBLAS build; see issue 3).
#include <benchmark/benchmark.h>

#include <chrono>
#include <ctime>

#include "diffpath/trainer.hpp"

namespace {

constexpr double kPytorchStepsPerSecond = 86.0;

void BM_TrainStep(benchmark::State& state) {
  diffpath::TrainConfig config;
  config.data_spec = "swissroll";
  config.n_data = 3000;
  config.batch = int(state.range(1));
  config.hidden = {128, 128, 128};
  config.threads = int(state.range(0));
  diffpath::DsmTrainer trainer(config);
  for (int i = 0; i < 20; ++i) trainer.step();  // warm up: buffers, caches, Adam moments
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();  // CPU time of the whole process (all threads)
  for (auto _ : state) benchmark::DoNotOptimize(trainer.step());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu_seconds = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  const double steps_per_second = double(state.iterations()) / seconds;
  state.counters["steps_per_s"] = steps_per_second;
  state.counters["GFLOP_per_s"] = steps_per_second * trainer.flops_per_step() * 1e-9;
  state.counters["x_pytorch"] = steps_per_second / kPytorchStepsPerSecond;
  state.counters["threads"] = trainer.threads();
  // On a busy machine wall time overstates the cost; process CPU time per step does not
  // (for 2 threads it is the sum over both, so 2× the wall time of an idle machine).
  state.counters["cpu_ms_per_step"] = 1e3 * cpu_seconds / double(state.iterations());
}

}  // namespace

BENCHMARK(BM_TrainStep)
    ->ArgNames({"threads", "batch"})
    ->Args({1, 512})
    ->Args({2, 512})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

BENCHMARK_MAIN();
