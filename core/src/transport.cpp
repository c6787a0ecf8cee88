// Exact optimal transport by LEMON's network simplex on the complete bipartite digraph.
// See transport.hpp for the exactness argument.
#include "diffpath/transport.hpp"

#include "diffpath/dataset.hpp"
#include "diffpath/parallel.hpp"
#include "diffpath/rng.hpp"
#include "diffpath/sampler.hpp"
#include "diffpath/score_model.hpp"

#include <lemon/network_simplex.h>
#include <lemon/static_graph.h>

#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <numeric>
#include <utility>
#include <cstdio>

namespace diffpath {
namespace {

constexpr int64_t kMaxArcs = int64_t(64) << 20;   // 64 M arcs ≈ 4.5 GB: refuse beyond

// The arc list a_i → b_j (node ids 0..n-1 → n..n+m-1) in source-major order, generated on
// the fly so StaticDigraph::build does not need an n·m vector of pairs. Random access only so
// that std::distance is O(1).
class BipartiteArcs {
 public:
  using iterator_category = std::random_access_iterator_tag;
  using value_type = std::pair<int, int>;
  using difference_type = std::ptrdiff_t;
  using pointer = void;
  using reference = value_type;

  BipartiteArcs(int64_t k, int n, int m) : k_(k), n_(n), m_(m) {}
  value_type operator*() const { return {int(k_ / m_), n_ + int(k_ % m_)}; }
  BipartiteArcs& operator++() { ++k_; return *this; }
  difference_type operator-(const BipartiteArcs& o) const { return difference_type(k_ - o.k_); }
  bool operator==(const BipartiteArcs& o) const { return k_ == o.k_; }
  bool operator!=(const BipartiteArcs& o) const { return k_ != o.k_; }

 private:
  int64_t k_;
  int n_, m_;
};

double squared_distance(const Points& a, int i, const Points& b, int j) {
  double s = 0.0;
  for (int r = 0; r < a.rows(); ++r) {
    const double diff = a(r, i) - b(r, j);
    s += diff * diff;
  }
  return s;
}

void check_inputs(const Points& a, const Points& b) {
  if (a.cols() == 0 || b.cols() == 0) throw Error("optimal transport: empty point set");
  if (a.rows() != b.rows())
    throw Error("optimal transport: dimension mismatch (" + std::to_string(a.rows()) + " vs " +
                std::to_string(b.rows()) + ")");
  if (!a.allFinite() || !b.allFinite())
    throw Error("optimal transport: non-finite coordinates in the point sets");
  if (int64_t(a.cols()) * int64_t(b.cols()) > kMaxArcs)
    throw Error("optimal transport: " + std::to_string(a.cols()) + " x " +
                std::to_string(b.cols()) + " points is too large for the exact solver");
}

}  // namespace

TransportPlan optimal_transport(const Points& a, const Points& b) {
  check_inputs(a, b);
  const int n = int(a.cols()), m = int(b.cols());
  const int64_t arcs = int64_t(n) * m;

  // Uniform weights as integer supplies: each a_i sends L/n units, each b_j receives L/m.
  const int64_t L = std::lcm(int64_t(n), int64_t(m));
  if (L > std::numeric_limits<int>::max() / 2)
    throw Error("optimal transport: lcm of the set sizes is too large");
  const int supply_a = int(L / n), demand_b = int(L / m);

  // Integer costs. The quantum keeps every node potential (a tree path of at most n + m arcs,
  // plus LEMON's artificial cost 2^62) inside int64.
  double max_cost = 0.0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < m; ++j) max_cost = std::max(max_cost, squared_distance(a, i, b, j));
  const double top = std::min(std::ldexp(1.0, 40), std::ldexp(1.0, 59) / double(n + m + 1));
  const double scale = max_cost > 0.0 ? top / max_cost : 1.0;

  lemon::StaticDigraph graph;
  graph.build(n + m, BipartiteArcs(0, n, m), BipartiteArcs(arcs, n, m));
  using Solver = lemon::NetworkSimplex<lemon::StaticDigraph, int, int64_t>;
  Solver solver(graph);
  {
    // The solver copies both maps, so they live only for this block.
    lemon::StaticDigraph::ArcMap<int64_t> cost(graph);
    for (int64_t k = 0; k < arcs; ++k) {
      const int i = int(k / m), j = int(k % m);
      cost[graph.arc(int(k))] = std::llround(squared_distance(a, i, b, j) * scale);
    }
    lemon::StaticDigraph::NodeMap<int> supply(graph);
    for (int i = 0; i < n; ++i) supply[graph.node(i)] = supply_a;
    for (int j = 0; j < m; ++j) supply[graph.node(n + j)] = -demand_b;
    solver.costMap(cost).supplyMap(supply);
  }
  if (solver.run(Solver::BLOCK_SEARCH) != Solver::OPTIMAL)
    throw Error("optimal transport: network simplex did not reach an optimum");

  TransportPlan plan;
  plan.quantization_bound = max_cost > 0.0 ? 1.0 / scale : 0.0;
  plan.couplings.reserve(size_t(n + m));
  for (int64_t k = 0; k < arcs; ++k) {
    const int flow = solver.flow(graph.arc(int(k)));
    if (flow == 0) continue;
    const int i = int(k / m), j = int(k % m);
    const double mass = double(flow) / double(L);
    plan.couplings.push_back({i, j, mass});
    plan.cost += mass * squared_distance(a, i, b, j);
  }
  return plan;
}

double w2_squared(const Points& a, const Points& b) { return optimal_transport(a, b).cost; }

namespace {

void check_sweep_options(const ScoreModel& model, const std::string& data_spec,
                         const W2SweepOptions& o) {
  if (o.etas.empty()) throw Error("W2 sweep: no η values");
  for (double eta : o.etas)
    if (!(eta >= 0.0 && eta <= 1.0)) throw Error("W2 sweep: η must be in [0, 1]");
  if (o.trials < 1) throw Error("W2 sweep: trials must be at least 1");
  if (o.n < 1) throw Error("W2 sweep: n must be at least 1");
  if (o.steps < 1) throw Error("W2 sweep: steps must be at least 1");
  const int d = dataset_dim(data_spec);
  if (d != model.dim())
    throw Error("W2 sweep: the model is " + std::to_string(model.dim()) + "-dimensional but '" +
                data_spec + "' is " + std::to_string(d) + "-dimensional");
}

std::string eta_note(double eta, int trial, int trials) {
  char buf[80];
  std::snprintf(buf, sizeof buf, "η = %.4g, trial %d/%d", eta, trial + 1, trials);
  return buf;
}

}  // namespace

std::vector<W2Point> w2_sweep(const ScoreModel& model, const Schedule& schedule,
                              const std::string& data_spec, const W2SweepOptions& options,
                              const std::atomic<bool>* cancel, const SweepProgress& progress) {
  check_sweep_options(model, data_spec, options);
  const int trials = options.trials, n_eta = int(options.etas.size());
  auto cancelled = [&] { return cancel && cancel->load(std::memory_order_relaxed); };

  // Fresh data per trial, shared by every η.
  std::vector<Points> data(static_cast<size_t>(trials));
  for (int k = 0; k < trials; ++k)
    data[size_t(k)] = make_dataset(data_spec, options.n, stream_seed(options.seed, 2, k)).points;

  // Progress: each (η, trial) is one unit, half sampling and half transport.
  const double units = double(n_eta) * trials;
  auto report = [&](double done, const std::string& note) {
    if (progress) progress(std::min(1.0, done / units), note);
  };

  std::vector<W2Point> out;
  for (int e = 0; e < n_eta; ++e) {
    const double eta = options.etas[size_t(e)];
    std::vector<Points> samples(static_cast<size_t>(trials));
    for (int k = 0; k < trials; ++k) {
      if (cancelled()) throw Error("cancelled");
      const std::string note = eta_note(eta, k, trials);
      SamplerOptions so;
      so.eta = eta;
      so.steps = options.steps;
      so.n = options.n;
      so.seed = stream_seed(options.seed, 1, k);   // the same at every η
      so.threads = options.threads;
      so.record_action = false;
      const double base = double(e) * trials + 0.5 * k;
      SampleResult r = sample(model, schedule, so, cancel,
                              [&](double f) { report(base + 0.5 * f, note); });
      if (r.cancelled || cancelled()) throw Error("cancelled");
      if (!r.samples.allFinite())
        throw Error("W2 sweep: the sampler diverged (non-finite samples) at " + note);
      samples[size_t(k)] = std::move(r.samples);
    }
    // The transport problems of this η are independent: solve them side by side.
    report(double(e) * trials + 0.5 * trials, "η = " + std::to_string(eta) + ": transport");
    W2Point point;
    point.eta = eta;
    point.trials.assign(size_t(trials), 0.0);
    parallel_for(trials, options.threads, [&](int begin, int end) {
      for (int k = begin; k < end && !cancelled(); ++k)
        point.trials[size_t(k)] = w2_squared(samples[size_t(k)], data[size_t(k)]);
    });
    if (cancelled()) throw Error("cancelled");
    mean_and_se(point.trials, point.mean, point.se);
    out.push_back(std::move(point));
    report(double(e + 1) * trials, eta_note(eta, trials - 1, trials));
  }
  return out;
}

void mean_and_se(const std::vector<double>& values, double& mean, double& se) {
  const size_t n = values.size();
  mean = n ? std::accumulate(values.begin(), values.end(), 0.0) / double(n) : 0.0;
  se = 0.0;
  if (n < 2) return;
  double ss = 0.0;
  for (double v : values) ss += (v - mean) * (v - mean);
  se = std::sqrt(ss / double(n - 1) / double(n));
}

}  // namespace diffpath
