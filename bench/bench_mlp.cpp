// MLP score network throughput: batched score() (float and double, 1 and 2 threads), the
// float score_jacobian (the NLL(η) estimator's) and jets of order 1-3 (the likelihood/WKB hot
// path). GFLOP/s counts only the matrix-product flops
// (2·out·in per point per layer, times the number of jet blocks), so the distance to the
// machine's peak is visible. For jets, x_score is the jet's cost in double score() evaluations
// of the same batch, measured in the same run (the jet of order 3 in d = 2 carries 10 blocks
// through every hidden-to-hidden product, so ≈ 10 is the floor).
#include <benchmark/benchmark.h>

#include <chrono>

#include "diffpath/mlp.hpp"
#include "diffpath/parallel.hpp"
#include "diffpath/rng.hpp"

using namespace diffpath;

namespace {

constexpr int kDim = 2;

const Mlp& paper_net() {
  static const Mlp net(MlpParams::init(kDim, {128, 128, 128}, Activation::Swish, 1));
  return net;
}

Points random_points(int n) {
  Rng rng(7);
  Points x(kDim, n);
  for (Eigen::Index i = 0; i < x.size(); ++i) x(i) = 2.0 * rng.normal();
  return x;
}

// Distinct derivative blocks of a jet: value, ∂_j, ∂_j∂_k (j ≤ k), ∂_j∂_k∂_l (j ≤ k ≤ l).
int jet_blocks(int d, int order) {
  const int counts[4] = {1, d, d * (d + 1) / 2, d * (d + 1) * (d + 2) / 6};
  int c = 0;
  for (int k = 0; k <= order; ++k) c += counts[k];
  return c;
}

// Matrix-product flops per point: the first layer once (its derivative blocks are column
// scalings), every later layer once per jet block.
double flops_per_point(const MlpParams& p, int blocks) {
  double f = 2.0 * double(p.W[0].size());
  for (size_t l = 1; l < p.W.size(); ++l) f += 2.0 * double(p.W[l].size()) * blocks;
  return f;
}

// Evaluates `n` points split into `threads` contiguous chunks, as a sampler would.
void BM_MlpScore(benchmark::State& state) {
  const Precision precision = state.range(0) ? Precision::Double : Precision::Float;
  const int threads = int(state.range(1)), n = 3000;
  Mlp net = paper_net();
  net.set_precision(precision);
  const Points x = random_points(n);
  Points out(kDim, n);
  for (auto _ : state) {
    parallel_for(n, threads, [&](int begin, int end) {
      Points part;
      net.score(x.middleCols(begin, end - begin), 0.5, part);
      out.middleCols(begin, end - begin) = part;
    });
    benchmark::DoNotOptimize(out.data());
  }
  const double evals = double(state.iterations()) * n;
  state.counters["particles/s"] = benchmark::Counter(evals, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(
      evals * flops_per_point(net.params(), 1) * 1e-9, benchmark::Counter::kIsRate);
  state.SetLabel(precision == Precision::Float ? "float" : "double");
}
BENCHMARK(BM_MlpScore)
    ->ArgNames({"double", "threads"})
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Jets of `order` for a batch of n points, split over `threads`.
void BM_MlpJet(benchmark::State& state) {
  const int order = int(state.range(0)), n = int(state.range(1)), threads = int(state.range(2));
  Mlp net = paper_net();
  net.set_precision(Precision::Double);
  const Points x = random_points(n);
  auto run_split = [&](auto&& eval) {
    parallel_for(n, threads, [&](int begin, int end) { eval(begin, end); });
  };

  // Baseline in the same run: the double score of the same batch.
  Points s;
  int reps = 0;
  auto start = std::chrono::steady_clock::now();
  while (seconds_since(start) < 0.2 || reps < 3) {
    run_split([&](int begin, int end) {
      Points part;
      net.score(x.middleCols(begin, end - begin), 0.5, part);
    });
    ++reps;
  }
  const double score_seconds = seconds_since(start) / reps;

  double jet_seconds = 0;
  for (auto _ : state) {
    start = std::chrono::steady_clock::now();
    run_split([&](int begin, int end) {
      ScoreJet jet;
      net.jet(x.middleCols(begin, end - begin), 0.5, order, jet);
      benchmark::DoNotOptimize(jet.s.data());
    });
    jet_seconds += seconds_since(start);
  }
  const double evals = double(state.iterations()) * n;
  state.counters["points/s"] = benchmark::Counter(evals, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(
      evals * flops_per_point(net.params(), jet_blocks(kDim, order)) * 1e-9,
      benchmark::Counter::kIsRate);
  state.counters["x_score"] = jet_seconds / double(state.iterations()) / score_seconds;
}
BENCHMARK(BM_MlpJet)
    ->ArgNames({"order", "n", "threads"})
    ->ArgsProduct({{1, 2, 3}, {1000}, {1, 2}})
    ->Args({3, 1, 1})   // one point at a time: the per-call overhead
    ->Args({3, 16, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// score_jacobian in float (the NLL(η) estimator's hot path: s and ∇s at every step of every
// path), 3000 points split over `threads`. GFLOP/s counts 1 + d blocks per later layer.
void BM_MlpScoreJacobian(benchmark::State& state) {
  const int threads = int(state.range(0)), n = 3000;
  Mlp net = paper_net();
  net.set_precision(Precision::Float);
  const Points x = random_points(n);
  for (auto _ : state)
    parallel_for(n, threads, [&](int begin, int end) {
      ScoreJet jet;
      net.score_jacobian(x.middleCols(begin, end - begin), 0.5, jet);
      benchmark::DoNotOptimize(jet.J.data());
    });
  const double evals = double(state.iterations()) * n;
  state.counters["points/s"] = benchmark::Counter(evals, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(
      evals * flops_per_point(net.params(), jet_blocks(kDim, 1)) * 1e-9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MlpScoreJacobian)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
