// Exact optimal transport by LEMON's network simplex on the complete bipartite digraph.
// See transport.hpp for the exactness argument.
#include "diffpath/transport.hpp"

#include "diffpath/dataset.hpp"
#include "diffpath/parallel.hpp"
#include "diffpath/rng.hpp"
#include "diffpath/sampler.hpp"
#include "diffpath/score_model.hpp"
#include "diffpath/stats.hpp"

#include <Eigen/Cholesky>
#include <lemon/network_simplex.h>
#include <lemon/static_graph.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <limits>
#include <numeric>
#include <utility>

namespace diffpath {
namespace {

constexpr int64_t kMaxArcs = int64_t(64) << 20;   // 64 M arcs ≈ 4.5 GB: refuse beyond

// The arc list a_i → b_j (node ids 0..n-1 → n..n+m-1) of the complete bipartite digraph in
// source-major order, generated on the fly so StaticDigraph::build does not need an n·m vector
// of pairs. Random access only so that std::distance is O(1).
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
  const int d = int(a.rows());
  const double* p = a.data() + size_t(i) * size_t(d);
  const double* q = b.data() + size_t(j) * size_t(d);
  double s = 0.0;
  for (int r = 0; r < d; ++r) s += (p[r] - q[r]) * (p[r] - q[r]);
  return s;
}

// ‖p − b_j‖² for every column j of b, into out (resized).
void distances_to(const double* p, const Points& b, std::vector<double>& out) {
  const int d = int(b.rows()), m = int(b.cols());
  out.resize(size_t(m));
  const double* q = b.data();
  if (d == 2) {   // the common case, written out so the compiler vectorizes it
    for (int j = 0; j < m; ++j) {
      const double dx = p[0] - q[2 * j], dy = p[1] - q[2 * j + 1];
      out[size_t(j)] = dx * dx + dy * dy;
    }
    return;
  }
  for (int j = 0; j < m; ++j) {
    double s = 0.0;
    for (int r = 0; r < d; ++r) s += (p[r] - q[size_t(j) * d + r]) * (p[r] - q[size_t(j) * d + r]);
    out[size_t(j)] = s;
  }
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

// The integer transportation problem: a_i supplies L/n units, b_j demands L/m units
// (L = lcm(n, m)), arc costs round(‖a_i − b_j‖² · scale).
struct Problem {
  const Points& a;
  const Points& b;
  int n = 0, m = 0;
  int64_t L = 0;
  int supply_a = 0, demand_b = 0;
  double max_cost = 0.0, scale = 1.0;

  Problem(const Points& a_, const Points& b_) : a(a_), b(b_), n(int(a_.cols())), m(int(b_.cols())) {
    L = std::lcm(int64_t(n), int64_t(m));
    if (L > std::numeric_limits<int>::max() / 2)
      throw Error("optimal transport: lcm of the set sizes is too large");
    supply_a = int(L / n), demand_b = int(L / m);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < m; ++j) max_cost = std::max(max_cost, squared_distance(a, i, b, j));
    // The largest cost becomes 2^40 (less for huge graphs), which keeps every node potential
    // (a tree path of at most n + m arcs, plus LEMON's artificial cost 2^62) inside int64.
    const double top = std::min(std::ldexp(1.0, 40), std::ldexp(1.0, 59) / double(n + m + 1));
    scale = max_cost > 0.0 ? top / max_cost : 1.0;
  }
  // Round to nearest (the argument is ≥ 0 and ≤ 2^40, where x + 0.5 is exact).
  int64_t cost(int i, int j) const {
    return int64_t(std::floor(squared_distance(a, i, b, j) * scale + 0.5));
  }
};

// An optimal flow of the problem restricted to a set of arcs, with the node potentials.
struct Solution {
  std::vector<std::pair<int, int>> arcs;   // (i, j) with flow > 0
  std::vector<int> flow;
  std::vector<int64_t> pi;                 // n + m potentials: a_i at i, b_j at n + j
};

// Network simplex on the arcs [first, last) (pairs (i, n + j), sorted by i).
template <class ArcIterator>
Solution solve_on(const Problem& P, ArcIterator first, ArcIterator last) {
  const int n = P.n, m = P.m;
  lemon::StaticDigraph graph;
  graph.build(n + m, first, last);
  const int64_t count = int64_t(std::distance(first, last));
  using Solver = lemon::NetworkSimplex<lemon::StaticDigraph, int, int64_t>;
  Solver solver(graph);
  {
    // The solver copies both maps, so they live only for this block.
    lemon::StaticDigraph::ArcMap<int64_t> cost(graph);
    ArcIterator it = first;
    for (int64_t k = 0; k < count; ++k, ++it)
      cost[graph.arc(int(k))] = P.cost((*it).first, (*it).second - n);
    lemon::StaticDigraph::NodeMap<int> supply(graph);
    for (int i = 0; i < n; ++i) supply[graph.node(i)] = P.supply_a;
    for (int j = 0; j < m; ++j) supply[graph.node(n + j)] = -P.demand_b;
    solver.costMap(cost).supplyMap(supply);
  }
  if (solver.run(Solver::BLOCK_SEARCH) != Solver::OPTIMAL)
    throw Error("optimal transport: network simplex did not reach an optimum");
  Solution sol;
  ArcIterator it = first;
  for (int64_t k = 0; k < count; ++k, ++it) {
    const int f = solver.flow(graph.arc(int(k)));
    if (f == 0) continue;
    sol.arcs.emplace_back((*it).first, (*it).second - n);
    sol.flow.push_back(f);
  }
  sol.pi.resize(size_t(n + m));
  for (int v = 0; v < n + m; ++v) sol.pi[size_t(v)] = solver.potential(graph.node(v));
  return sol;
}

// Arcs that always admit a feasible flow: the north-west-corner plan (n + m − 1 arcs at most).
void add_staircase(const Problem& P, std::vector<std::vector<int>>& rows) {
  int i = 0, j = 0;
  int64_t ra = P.supply_a, rb = P.demand_b;
  while (i < P.n && j < P.m) {
    rows[size_t(i)].push_back(j);
    const int64_t t = std::min(ra, rb);
    ra -= t, rb -= t;
    if (ra == 0) ++i, ra = P.supply_a;
    if (rb == 0) ++j, rb = P.demand_b;
  }
}

// Calls emit(j) for the indices of the k smallest entries of dist (1 ≤ k ≤ dist.size()).
// A bounded max-heap: after the first k entries most are rejected by one comparison.
template <class Emit>
void k_smallest(const std::vector<double>& dist, int k, std::vector<std::pair<double, int>>& heap,
                Emit emit) {
  heap.clear();
  for (size_t j = 0; j < dist.size(); ++j) {
    if (int(heap.size()) < k) {
      heap.emplace_back(dist[j], int(j));
      std::push_heap(heap.begin(), heap.end());
    } else if (dist[j] < heap.front().first) {
      std::pop_heap(heap.begin(), heap.end());
      heap.back() = {dist[j], int(j)};
      std::push_heap(heap.begin(), heap.end());
    }
  }
  for (const auto& [dj, j] : heap) emit(j);
}

// The cloud with its own mean removed and its covariance whitened (a ridge keeps degenerate
// clouds — a single point, a line — well defined). For candidate arcs only: the optimal map
// between clouds that differ by an affine change (a shift, a wrong scale) pairs points of the
// same whitened position, where raw nearest neighbours would all be wrong.
Points standardized(const Points& x) {
  const Vec mean = x.rowwise().mean();
  const Points c = x.colwise() - mean;
  Eigen::MatrixXd cov = c * c.transpose() / double(x.cols());
  const double ridge = 1e-9 * std::max(cov.trace(), 1e-300) + 1e-300;
  cov.diagonal().array() += ridge;
  const Eigen::LLT<Eigen::MatrixXd> llt(cov);
  if (llt.info() != Eigen::Success) return c;
  return llt.matrixL().solve(c);
}

// The k nearest b's of every a and the k nearest a's of every b, in whitened coordinates.
void add_nearest(const Problem& P, int k, std::vector<std::vector<int>>& rows) {
  const Points za = standardized(P.a), zb = standardized(P.b);
  std::vector<double> dist;
  std::vector<std::pair<double, int>> scratch;
  const int d = int(za.rows());
  for (int i = 0; i < P.n; ++i) {
    distances_to(za.data() + size_t(i) * d, zb, dist);
    k_smallest(dist, std::min(k, P.m), scratch, [&](int j) { rows[size_t(i)].push_back(j); });
  }
  for (int j = 0; j < P.m; ++j) {
    distances_to(zb.data() + size_t(j) * d, za, dist);
    k_smallest(dist, std::min(k, P.n), scratch, [&](int i) { rows[size_t(i)].push_back(j); });
  }
}

// Pricing: every arc of the full graph with negative reduced cost c_ij + π_i − π_j under the
// potentials of the restricted optimum, up to `per_row` most negative ones per a_i, in exact
// (128-bit) integer arithmetic. Returns how many were added.
int64_t add_violations(const Problem& P, const std::vector<int64_t>& pi, int per_row,
                       std::vector<std::vector<int>>& rows) {
  int64_t added = 0;
  std::vector<std::pair<__int128, int>> bad;
  for (int i = 0; i < P.n; ++i) {
    bad.clear();
    for (int j = 0; j < P.m; ++j) {
      // rc < 0 needs π_j − π_i > c_ij ≥ 0: most arcs are settled without computing c_ij.
      const __int128 gap = __int128(pi[size_t(P.n + j)]) - pi[size_t(i)];
      if (gap <= 0) continue;
      const __int128 rc = __int128(P.cost(i, j)) - gap;
      if (rc < 0) bad.emplace_back(rc, j);
    }
    if (int(bad.size()) > per_row) {
      std::nth_element(bad.begin(), bad.begin() + (per_row - 1), bad.end());
      bad.resize(size_t(per_row));
    }
    for (const auto& [rc, j] : bad) rows[size_t(i)].push_back(j);
    added += int64_t(bad.size());
  }
  return added;
}

TransportPlan make_plan(const Problem& P, const Solution& sol) {
  TransportPlan plan;
  plan.quantization_bound = P.max_cost > 0.0 ? 1.0 / P.scale : 0.0;
  plan.couplings.reserve(sol.arcs.size());
  for (size_t k = 0; k < sol.arcs.size(); ++k) {
    const auto [i, j] = sol.arcs[k];
    const double mass = double(sol.flow[k]) / double(P.L);
    plan.couplings.push_back({i, j, mass});
    plan.cost += mass * squared_distance(P.a, i, P.b, j);
  }
  return plan;
}

}  // namespace

TransportPlan optimal_transport(const Points& a, const Points& b, int candidates) {
  check_inputs(a, b);
  if (candidates < 0) throw Error("optimal transport: candidates must be ≥ 0");
  const Problem P(a, b);
  const int64_t full = int64_t(P.n) * P.m;
  if (candidates == 0 || int64_t(candidates) * (P.n + P.m) >= full / 2)
    return make_plan(P, solve_on(P, BipartiteArcs(0, P.n, P.m), BipartiteArcs(full, P.n, P.m)));

  // Column generation: solve on a sparse arc set, price all arcs with the optimal potentials,
  // add the violated ones, repeat. No violated arc left ⇒ the potentials are feasible duals of
  // the full problem and complementary with the flow: the flow is optimal on the full graph.
  std::vector<std::vector<int>> rows(size_t(P.n));
  add_nearest(P, candidates, rows);
  add_staircase(P, rows);
  std::vector<std::pair<int, int>> arcs;
  for (int round = 0;; ++round) {
    arcs.clear();
    for (int i = 0; i < P.n; ++i) {
      auto& r = rows[size_t(i)];
      std::sort(r.begin(), r.end());
      r.erase(std::unique(r.begin(), r.end()), r.end());
      for (int j : r) arcs.emplace_back(i, P.n + j);
    }
    if (int64_t(arcs.size()) >= full / 2 || round == 50)   // not sparse any more: solve it all
      return make_plan(P, solve_on(P, BipartiteArcs(0, P.n, P.m), BipartiteArcs(full, P.n, P.m)));
    Solution sol = solve_on(P, arcs.cbegin(), arcs.cend());
    if (add_violations(P, sol.pi, 2 * candidates, rows) == 0) return make_plan(P, sol);
  }
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
    const MeanSe m = mean_se(point.trials);
    point.mean = m.mean;
    point.se = m.se;
    out.push_back(std::move(point));
    report(double(e + 1) * trials, eta_note(eta, trials - 1, trials));
  }
  return out;
}

}  // namespace diffpath
