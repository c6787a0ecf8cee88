// Exact W2² for n vs n points in 2D: column generation (the default) against the baseline of
// LEMON's network simplex on the full bipartite graph, on two problem shapes a sweep meets:
// Gaussian vs wider Gaussian, and swiss roll vs shifted, rescaled swiss roll. The bar:
// 3000 vs 3000 in seconds. Run: bench_transport [--benchmark_filter=3000]
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "diffpath/rng.hpp"
#include "diffpath/transport.hpp"

using namespace diffpath;

namespace {

Points gaussian_points(int n, double scale, uint64_t seed) {
  Rng rng(seed);
  Points p(2, n);
  for (int j = 0; j < n; ++j) p.col(j) << scale * rng.normal(), scale * rng.normal();
  return p;
}

Points roll_points(int n, double scale, double shift, uint64_t seed) {
  Rng rng(seed);
  Points p(2, n);
  for (int j = 0; j < n; ++j) {
    const double t = 1.5 * M_PI * (1 + 2 * rng.uniform());
    p.col(j) << scale * (t * std::cos(t) + 0.5 * rng.normal()) / 6.865 + shift,
        scale * (t * std::sin(t) + 0.5 * rng.normal()) / 6.865;
  }
  return p;
}

void pair_of(int shape, int n, Points& a, Points& b) {
  if (shape == 0) {
    a = gaussian_points(n, 1.0, 1), b = gaussian_points(n, 1.1, 2);
  } else {
    a = roll_points(n, 1.0, 0.0, 1), b = roll_points(n, 1.1, 0.2, 2);
  }
}

// Args: n, candidates (0 = full graph), shape (0 Gaussians, 1 swiss rolls).
void BM_W2Squared(benchmark::State& state) {
  const int n = int(state.range(0)), candidates = int(state.range(1));
  Points a, b;
  pair_of(int(state.range(2)), n, a, b);
  double w2 = 0.0;
  for (auto _ : state) {
    w2 = optimal_transport(a, b, candidates).cost;
    benchmark::DoNotOptimize(w2);
  }
  state.counters["W2sq"] = w2;
}
BENCHMARK(BM_W2Squared)
    ->ArgNames({"n", "cand", "shape"})
    ->ArgsProduct({{500, 1000, 2000, 3000}, {100, 0}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

double seconds_of(const Points& a, const Points& b, int candidates) {
  const auto t0 = std::chrono::steady_clock::now();
  benchmark::DoNotOptimize(optimal_transport(a, b, candidates).cost);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  // The headline ratio, measured again side by side.
  for (int shape : {0, 1}) {
    Points a, b;
    pair_of(shape, 3000, a, b);
    const double full = seconds_of(a, b, 0), cg = seconds_of(a, b, 100);
    std::printf("3000 vs 3000 (%s): full graph %.2f s, column generation %.2f s, speed-up %.1fx\n",
                shape ? "swiss rolls" : "Gaussians", full, cg, full / cg);
  }
  return 0;
}
