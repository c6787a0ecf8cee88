// The η-model's density on a 256² grid (fokker_planck.hpp) from Tmax to Tmin with the shipped
// swiss-roll network (assets/swissroll-simple.safetensors, simple schedule), on 2 threads.
// Issue 11's targets: one η ≤ 20 s; each further η in the same call ≤ 3 s (the score is
// evaluated once per time node for all η, so a further η costs only its PDE work).
//
//   BM_FokkerPlanck/0/T   η = {0}
//   BM_FokkerPlanck/1/T   η = {0, 0.1}    (the further η's cost = this − /0/T)
//   BM_FokkerPlanck/2/T   η = {0, 0.5}
//   BM_FokkerPlanck/3/T   η = {0, 1}
//   BM_FokkerPlanck/4/T   η = {0, 0.1, 0.5, 1}
//   T = 0: the default node_tol 2e-4; T = 1: node_tol 2e-3 (the app's overlay; the network is
//   rough in t, so this halves the score nodes).
// Counters: wall and CPU seconds (on a loaded machine the CPU seconds say more), score_s
// (network evaluations), score_nodes, per-η PDE wall seconds and substeps, max mass error.
// BM_GaussianAccuracy prints the sup error of log q at Tmin against the closed form (wrong
// linear score, DESIGN §1.7) over the data's 3σ disc at 64², 128² and 256², with the observed
// order.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include "diffpath/checkpoint.hpp"
#include "diffpath/fokker_planck.hpp"
#include "shipped_model.hpp"
#include "diffpath/ground_truth.hpp"
#include "diffpath/score_model.hpp"

using namespace diffpath;

namespace {

// CPU seconds of this process (all threads): on a loaded machine the wall time says little.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

const ScoreModel& network() { return shipped_simple_network(); }

void BM_FokkerPlanck(benchmark::State& state) {
  const std::vector<std::vector<double>> sets = {{0.0}, {0.0, 0.1}, {0.0, 0.5}, {0.0, 1.0},
                                                 {0.0, 0.1, 0.5, 1.0}};
  FokkerPlanckOptions o;
  o.grid = 256;
  o.extent = 4.0;   // the CLI's default for the swiss roll
  o.etas = sets.at(size_t(state.range(0)));
  const int k = int(o.etas.size());
  o.threads = 2;
  if (state.range(1) != 0) o.node_tol = 2e-3;  // looser score nodes (the network is rough in t)
  FokkerPlanckResult r;
  network();
  double cpu = 0;
  for (auto _ : state) {
    const double c0 = cpu_seconds();
    r = solve_fokker_planck(network(), Schedule::simple(), o);
    cpu = cpu_seconds() - c0;
    benchmark::DoNotOptimize(r.grids.data());
  }
  state.counters["cpu_s"] = cpu;
  state.counters["seconds"] = r.seconds;
  state.counters["score_s"] = r.score_seconds;
  state.counters["score_nodes"] = r.score_evaluations;
  std::string label;
  double mass = 0;
  for (const EtaReport& rep : r.reports) {
    label += "eta " + std::to_string(rep.eta).substr(0, 4) + ": " +
             std::to_string(rep.seconds).substr(0, 5) + " s/" + std::to_string(rep.substeps) +
             " substeps; ";
    mass = std::max(mass, rep.max_mass_error);
  }
  state.counters["mass_err"] = mass;
  state.SetLabel(label + (r.resolved(0) ? "resolved" : "NOT resolved"));
  std::fprintf(stderr,
               "fokker_planck 256^2, %d eta, node_tol %g: %.2f s wall (%.2f CPU s), %.2f s in %d "
               "score nodes; %s\n",
               k, o.node_tol, r.seconds, cpu, r.score_seconds, r.score_evaluations, label.c_str());
}

void BM_GaussianAccuracy(benchmark::State& state) {
  GaussianScoreParams p;
  p.d = 2;
  p.m = 0.7;
  p.v = 0.3;
  p.eps = 0.1;
  p.delta = 0.1;
  const Schedule sc = Schedule::simple();
  const GaussianScore model(p, sc);
  const std::vector<double> etas = {0.0, 0.1, 0.5, 1.0};
  for (auto _ : state) {
    std::vector<std::vector<double>> err;
    for (int n : {64, 128, 256}) {
      FokkerPlanckOptions o;
      o.grid = n;
      o.extent = 6.0;
      o.etas = etas;
      o.threads = 2;
      const FokkerPlanckResult r = solve_fokker_planck(model, sc, o);
      std::vector<double> e_n;
      for (int e = 0; e < int(etas.size()); ++e) {
        const GaussianFinal gf = gaussian_final(p, sc, etas[e]);
        const double mu = gf.moments.mean, P = gf.moments.var;
        double worst = 0;
        for (int i = 0; i < n; ++i)
          for (int j = 0; j < n; ++j) {
            const double x = r.cell_center(i), y = r.cell_center(j);
            if (std::hypot(x - p.m, y - p.m) > 3 * std::sqrt(p.v)) continue;
            const double ex = -std::log(2 * M_PI * P) - ((x - mu) * (x - mu) + (y - mu) * (y - mu)) / (2 * P);
            worst = std::max(worst, std::abs(r.grids[e][0].log_q(i, j) - ex));
          }
        e_n.push_back(worst);
        std::fprintf(stderr, "gaussian %d^2 [-6,6]^2 eta %.1f: sup err %.3e, max |mass-1| %.1e, %ld substeps, %.2f s\n",
                     n, etas[e], worst, r.reports[e].max_mass_error, r.reports[e].substeps,
                     r.reports[e].seconds);
      }
      err.push_back(e_n);
    }
    for (int e = 0; e < int(etas.size()); ++e) {
      std::fprintf(stderr, "eta %.1f: order 64->128 %.2f, 128->256 %.2f\n", etas[e],
                   std::log2(err[0][e] / err[1][e]), std::log2(err[1][e] / err[2][e]));
      state.counters["err256_eta" + std::to_string(e)] = err[2][e];
    }
  }
}

}  // namespace

BENCHMARK(BM_FokkerPlanck)
    ->ArgsProduct({{0, 1, 2, 3, 4}, {1, 0}})
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();
BENCHMARK(BM_GaussianAccuracy)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

BENCHMARK_MAIN();
