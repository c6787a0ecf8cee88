// Exact optimal transport against ground truths: zero for permutations, ‖c‖² for translates,
// the sorted (quantile) coupling in 1D, and brute force over all permutations for small sets.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <numeric>
#include <vector>

#include <nlohmann/json.hpp>

#include "diffpath/dataset.hpp"
#include "diffpath/ground_truth.hpp"
#include "diffpath/rng.hpp"
#include "diffpath/sampler.hpp"
#include "diffpath/score_model.hpp"
#include "diffpath/stats.hpp"
#include "diffpath/transport.hpp"

using namespace diffpath;

namespace {

Points random_points(int d, int n, uint64_t seed) {
  Rng rng(seed);
  Points p(d, n);
  for (int j = 0; j < n; ++j)
    for (int r = 0; r < d; ++r) p(r, j) = rng.normal();
  return p;
}

Points shuffled(const Points& p, uint64_t seed) {
  std::vector<int> perm(static_cast<size_t>(p.cols()));
  std::iota(perm.begin(), perm.end(), 0);
  Rng rng(seed);
  for (size_t k = perm.size(); k > 1; --k) std::swap(perm[k - 1], perm[rng.next() % k]);
  Points q(p.rows(), p.cols());
  for (int j = 0; j < p.cols(); ++j) q.col(j) = p.col(perm[size_t(j)]);
  return q;
}

// Equal-size W2² by enumerating all n! assignments.
double brute_force_w2(const Points& a, const Points& b) {
  const int n = int(a.cols());
  std::vector<int> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  double best = std::numeric_limits<double>::infinity();
  do {
    double c = 0.0;
    for (int i = 0; i < n; ++i) c += (a.col(i) - b.col(perm[size_t(i)])).squaredNorm();
    best = std::min(best, c / n);
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

// Each point repeated `k` times: a uniform measure on n points equals one on k·n copies.
Points repeat_points(const Points& p, int k) {
  Points q(p.rows(), p.cols() * k);
  for (int j = 0; j < p.cols(); ++j)
    for (int r = 0; r < k; ++r) q.col(j * k + r) = p.col(j);
  return q;
}

// 1D W2² = ∫₀¹ (F⁻¹(u) − G⁻¹(u))² du for uniform measures on sorted samples, summed over the
// pieces between the breakpoints k/n and l/m of the two quantile functions.
double quantile_w2_1d(std::vector<double> x, std::vector<double> y) {
  std::sort(x.begin(), x.end());
  std::sort(y.begin(), y.end());
  const double n = double(x.size()), m = double(y.size());
  size_t i = 0, j = 0;
  double u = 0.0, total = 0.0;
  while (i < x.size() && j < y.size()) {
    const double next = std::min(double(i + 1) / n, double(j + 1) / m);
    total += (next - u) * (x[i] - y[j]) * (x[i] - y[j]);
    u = next;
    if (double(i + 1) / n <= u + 1e-15) ++i;
    if (double(j + 1) / m <= u + 1e-15) ++j;
  }
  return total;
}

std::vector<double> row(const Points& p) { return {p.data(), p.data() + p.size()}; }

// The plan's marginals must be the uniform weights, each to round-off.
void check_marginals(const TransportPlan& plan, int n, int m) {
  std::vector<double> out(size_t(n), 0.0), in(size_t(m), 0.0);
  for (const auto& c : plan.couplings) {
    REQUIRE(c.mass > 0.0);
    out[size_t(c.i)] += c.mass;
    in[size_t(c.j)] += c.mass;
  }
  for (double v : out) CHECK(v == doctest::Approx(1.0 / n).epsilon(1e-12));
  for (double v : in) CHECK(v == doctest::Approx(1.0 / m).epsilon(1e-12));
}

}  // namespace

TEST_CASE("a permutation of the same set is at distance exactly 0") {
  const Points a = random_points(2, 200, 1);
  const TransportPlan plan = optimal_transport(a, shuffled(a, 2));
  CHECK(plan.cost == 0.0);
  CHECK(plan.couplings.size() == 200);   // a vertex of the assignment polytope: a permutation
  check_marginals(plan, 200, 200);
}

TEST_CASE("a translate is at W2² = ‖c‖² (the optimal coupling is the identity)") {
  // W2²(μ, ν) = ‖mean μ − mean ν‖² + W2² of the centred measures, which coincide here.
  for (int d : {1, 2, 3}) {
    const Points a = random_points(d, 300, 10 + d);
    Vec c(d);
    for (int r = 0; r < d; ++r) c(r) = 0.3 * (r + 1) - 0.5;
    const Points b = shuffled(a.colwise() + c, 20 + d);
    const TransportPlan plan = optimal_transport(a, b, 5);   // few candidates: several rounds
    // The exact plan gives ‖c‖² up to round-off in (a_i + c) − a_i (~1e-15 · |a|); a plan
    // optimal only for the rounded costs is off by at most quantization_bound.
    CHECK(std::abs(plan.cost - c.squaredNorm()) <= plan.quantization_bound + 1e-12);
    CHECK(plan.quantization_bound < 1e-10);
  }
}

TEST_CASE("1D: equal sizes match the sorted coupling, unequal sizes the quantile formula") {
  for (auto [n, m] : {std::pair{500, 500}, {120, 80}, {7, 13}, {1, 9}}) {
    const Points a = random_points(1, n, 100 + n);
    Points b = random_points(1, m, 200 + m);
    b = (b.array() * 1.7 + 0.4).matrix();
    const TransportPlan plan = optimal_transport(a, b);
    const double truth = quantile_w2_1d(row(a), row(b));
    CHECK(plan.cost == doctest::Approx(truth).epsilon(1e-11));
    check_marginals(plan, n, m);
  }
}

TEST_CASE("small random sets: equal to brute force over all permutations") {
  for (int n = 1; n <= 8; ++n) {
    for (int d : {2, 3}) {
      const Points a = random_points(d, n, 1000 + 17 * n + d);
      const Points b = random_points(d, n, 2000 + 31 * n + d) * 1.5;
      const TransportPlan plan = optimal_transport(a, b);
      CHECK(plan.cost == doctest::Approx(brute_force_w2(a, b)).epsilon(1e-12));
      check_marginals(plan, n, n);
    }
  }
}

TEST_CASE("unequal sizes: equal to brute force on repeated points") {
  // n and m points with weights 1/n, 1/m are the same measures as L = lcm(n, m) points each.
  for (auto [n, m] : {std::pair{2, 3}, {3, 6}, {4, 8}, {6, 2}}) {
    const Points a = random_points(2, n, 300 + n), b = random_points(2, m, 400 + m);
    const int L = std::lcm(n, m);
    const TransportPlan plan = optimal_transport(a, b);
    const double truth = brute_force_w2(repeat_points(a, L / n), repeat_points(b, L / m));
    CHECK(plan.cost == doctest::Approx(truth).epsilon(1e-12));
    check_marginals(plan, n, m);
  }
  const Points a = random_points(2, 50, 7);
  CHECK(w2_squared(a, repeat_points(a, 3)) == 0.0);
}

TEST_CASE("column generation reaches the same optimum as the full bipartite graph") {
  // Few candidates force several pricing rounds; shapes differ in shift, scale and size.
  for (int trial = 0; trial < 6; ++trial) {
    const int n = 150 + 40 * trial, m = trial % 2 ? n : n + 30 * trial;
    const Points a = random_points(2, n, 500 + trial);
    Points b = random_points(2, m, 600 + trial) * (0.5 + 0.3 * trial);
    b.row(0).array() += 0.4 * trial;
    const TransportPlan full = optimal_transport(a, b, 0);
    for (int k : {2, 6}) {
      const TransportPlan sparse = optimal_transport(a, b, k);
      INFO("trial " << trial << ", candidates " << k);
      // Both are optimal for the same integer costs; the true costs of two such plans differ
      // by at most one quantization bound (ties broken differently), plus summation round-off.
      CHECK(std::abs(sparse.cost - full.cost) <= full.quantization_bound + 1e-12 * full.cost);
      check_marginals(sparse, n, m);
    }
  }
  // 3D and collinear (degenerate covariance) inputs.
  Points line(3, 200);
  for (int j = 0; j < 200; ++j) line.col(j) << j * 0.01, j * 0.02, 0.0;
  const Points cloud = random_points(3, 200, 77);
  CHECK(optimal_transport(line, cloud, 3).cost ==
        doctest::Approx(optimal_transport(line, cloud, 0).cost).epsilon(1e-11));
  CHECK_THROWS_AS(optimal_transport(line, cloud, -1), Error);
}

TEST_CASE("identical points and degenerate sets") {
  const Points zeros = Points::Zero(2, 10);
  CHECK(w2_squared(zeros, zeros) == 0.0);
  Points one(2, 1);
  one << 3.0, 4.0;
  CHECK(w2_squared(zeros, one) == doctest::Approx(25.0));
}

TEST_CASE("bad input is a clear error") {
  const Points a = random_points(2, 5, 1);
  CHECK_THROWS_AS(w2_squared(a, Points(2, 0)), Error);
  CHECK_THROWS_AS(w2_squared(a, random_points(3, 5, 2)), Error);
  Points bad = a;
  bad(1, 2) = std::nan("");
  CHECK_THROWS_AS(w2_squared(a, bad), Error);
  bad(1, 2) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(w2_squared(bad, a), Error);
}

TEST_CASE("W2 sweep: documented seeds, common random numbers across η") {
  // The sweep must equal a hand-made computation with the seeds transport.hpp documents.
  const Schedule sch = Schedule::simple();
  const ScoreModelPtr model = make_score_model("exact:8gaussians", sch);
  W2SweepOptions o;
  o.etas = {0.0, 0.5};
  o.trials = 2;
  o.n = 150;
  o.steps = 60;
  o.seed = 42;
  std::vector<double> fractions;
  const auto sweep = w2_sweep(*model, sch, "8gaussians", o, nullptr,
                              [&](double f, const std::string&) { fractions.push_back(f); });
  REQUIRE(sweep.size() == 2);
  for (size_t e = 0; e < 2; ++e) {
    CHECK(sweep[e].eta == o.etas[e]);
    REQUIRE(sweep[e].trials.size() == 2);
    for (int k = 0; k < 2; ++k) {
      SamplerOptions so;
      so.eta = o.etas[e];
      so.steps = o.steps;
      so.n = o.n;
      so.seed = stream_seed(o.seed, 1, k);
      const Points x = sample(*model, sch, so).samples;
      const Points y = make_dataset("8gaussians", o.n, stream_seed(o.seed, 2, k)).points;
      CHECK(sweep[e].trials[size_t(k)] == w2_squared(x, y));
    }
    const MeanSe m = mean_se(sweep[e].trials);  // stats.hpp (its n < 2 rule: test_stats)
    CHECK(sweep[e].mean == m.mean);
    CHECK(sweep[e].se == m.se);
  }
  REQUIRE(!fractions.empty());
  CHECK(std::is_sorted(fractions.begin(), fractions.end()));
  CHECK(fractions.back() == doctest::Approx(1.0));
}

TEST_CASE("W2 sweep of a wrong Gaussian score matches the closed-form W2² of its samples' law") {
  // GaussianScore with eps, delta ≠ 0 on 1D data N(m, v): the Euler–Maruyama chain is linear,
  // so its samples are exactly N(μ_η, P_η) (gaussian_em_final) and
  //   W2²(N(μ, P), N(m, v)) = (μ − m)² + (√P − √v)².
  // The estimator W2²(empirical_n, empirical_n) is biased upwards only: W2² is jointly convex,
  // so E ≥ the true value (Jensen). Its excess is bounded by the triangle inequality,
  // E ≤ W² + 2W·E(a + b) + E(a + b)², a and b the distances of each sample to its own law.
  // E(a + b)² ≤ 2(E a² + E b²); for a 1D Gaussian of variance ≤ 1 and n = 1000, E a² ≈ 0.0036
  // (half the measured mean W2² ≈ 0.0072 of two independent N(0,1) 1000-samples), so
  // E(a + b)² ≤ 0.0145 and E(a + b) ≤ 0.12; we allow 0.13 and 0.016. Here P_η ≤ 0.52, v = 0.3.
  // Trial noise is dominated by the cross term 2(μ−m)(x̄ − ȳ), std 2|μ−m|·√((P + v)/n); with
  // only 4 trials the sample se is itself noisy, so the window is 4 × the larger of the two.
  const Schedule sch = Schedule::simple();
  const GaussianScoreParams p{1, 0.5, 0.3, 0.05, 0.3};
  const ScoreModelPtr model = make_score_model("gaussian:m=0.5,v=0.3,eps=0.05,delta=0.3", sch);
  W2SweepOptions o;
  o.etas = {0.0, 0.2, 1.0};
  o.trials = 4;
  o.n = 1000;
  o.steps = 100;
  o.seed = 7;
  const auto sweep = w2_sweep(*model, sch, "gaussian1d:m=0.5,v=0.3", o);
  for (const W2Point& pt : sweep) {
    const GaussianMoments q = gaussian_em_final(p, sch, pt.eta, o.steps);
    const double truth = (q.mean - p.m) * (q.mean - p.m) +
                         (std::sqrt(q.var) - std::sqrt(p.v)) * (std::sqrt(q.var) - std::sqrt(p.v));
    const double W = std::sqrt(truth);
    INFO("η = " << pt.eta << ": W2² = " << pt.mean << " ± " << pt.se << ", law " << truth);
    CHECK(truth > 0.1);   // the model is far enough off for the check to mean something
    CHECK(q.var <= 1.0);  // the premise of the bias bound
    const double se = std::max(pt.se, 2 * std::abs(q.mean - p.m) *
                                          std::sqrt((q.var + p.v) / o.n) / std::sqrt(o.trials));
    CHECK(pt.mean >= truth - 4 * se);
    CHECK(pt.mean <= truth + 2 * W * 0.13 + 0.016 + 4 * se);
  }
}

TEST_CASE("W2 sweep: bad input and cancellation") {
  const Schedule sch = Schedule::simple();
  const ScoreModelPtr model = make_score_model("exact:8gaussians", sch);
  W2SweepOptions o;
  o.n = 50;
  o.steps = 10;
  o.trials = 1;
  CHECK_THROWS_AS(w2_sweep(*model, sch, "8gaussians", o), Error);   // no η
  o.etas = {1.5};
  CHECK_THROWS_AS(w2_sweep(*model, sch, "8gaussians", o), Error);
  o.etas = {0.1};
  CHECK_THROWS_AS(w2_sweep(*model, sch, "gaussian1d:m=0,v=1", o), Error);   // 2D model, 1D data
  o.trials = 0;
  CHECK_THROWS_AS(w2_sweep(*model, sch, "8gaussians", o), Error);
  o.trials = 1;
  std::atomic<bool> cancel{true};
  CHECK_THROWS_WITH_AS(w2_sweep(*model, sch, "8gaussians", o, &cancel), "cancelled", Error);
}

TEST_CASE("diffpath-cli w2: JSON, CSV and plot; bad input exits non-zero") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("diffpath_test_w2_" + std::to_string(std::rand()));
  fs::create_directories(dir);
  const std::string base = std::string(DIFFPATH_CLI) +
                           " w2 --score exact:8gaussians --data 8gaussians --trials 2 --n 100"
                           " --steps 20 --threads 1";
  const std::string out = (dir / "out.json").string(), csv = (dir / "w2.csv").string(),
                    png = (dir / "w2.png").string();
  REQUIRE(std::system((base + " --eta 0:0.2:3 --json --csv " + csv + " --plot " + png + " > " +
                       out + " 2>/dev/null").c_str()) == 0);
  std::ifstream in(out);
  const nlohmann::json j = nlohmann::json::parse(in);
  REQUIRE(j["w2"].size() == 3);
  CHECK(j["w2"][1]["eta"].get<double>() == doctest::Approx(0.1));
  CHECK(j["w2"][2]["trials"].size() == 2);
  CHECK(j["w2"][0]["mean"].get<double>() > 0.0);
  std::ifstream c(csv);
  std::string header;
  std::getline(c, header);
  CHECK(header == "eta,w2_squared,se,trial_1,trial_2");
  std::ifstream p(png, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(p), std::istreambuf_iterator<char>()};
  CHECK(bytes.compare(0, 4, "\x89PNG") == 0);
  // The same sweep by a comma list gives the same numbers (same seeds).
  REQUIRE(std::system((base + " --eta 0.1 --json > " + out + " 2>/dev/null").c_str()) == 0);
  std::ifstream in2(out);
  const nlohmann::json j2 = nlohmann::json::parse(in2);
  CHECK(j2["w2"][0]["mean"].get<double>() == j["w2"][1]["mean"].get<double>());
  for (const char* bad : {" --eta 0:2:3", " --eta 0.1 --plot x.jpg", " --eta a,b", " --eta 0:1"})
    CHECK(std::system((base + bad + " > /dev/null 2>&1").c_str()) != 0);
  fs::remove_all(dir);
}

TEST_CASE("timing: 3000 vs 3000 points in 2D (printed, not gated)") {
  const Points a = random_points(2, 3000, 5), b = random_points(2, 3000, 6) * 1.1;
  TransportPlan plan;
  for (int candidates : {100, 0}) {
    const auto t0 = std::chrono::steady_clock::now();
    plan = optimal_transport(a, b, candidates);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("W2² of 3000 vs 3000 points (%s): %.6f (quantization bound %.1e) in %.2f s\n",
                candidates ? "column generation" : "full graph", plan.cost,
                plan.quantization_bound, s);
  }
  check_marginals(plan, 3000, 3000);
  // Two samples of N(0, I) and N(0, 1.21 I): W2² ≈ 2(1.1 − 1)² = 0.02 plus the sampling
  // distance between empirical measures (≈ 0.01 at this n in 2D); a loose sanity window.
  CHECK(plan.cost > 0.005);
  CHECK(plan.cost < 0.1);
}
