// The equal-variance fast path of MixtureScore (score_model.hpp, mixture_blocks.hpp): the
// exact score of a mixture whose components share one variance, e.g. the empirical data set
// (point masses), pruned by bounding boxes and, at large t, by a Taylor expansion. The same
// numbers as the general path in score_model.cpp up to rounding (tests/test_scores.cpp).
//
// Index
//   why it is fast .................... the comment below
//   MixtureBlocks, build_blocks ........ components sorted into compact blocks with boxes
//   BlockFrame ......................... the blocks at one t: pruned fused pass, moment sums
//   Taylor expansion (large t) ......... TaylorMoments, taylor_jet_point, taylor_points
//   equal_variance_score / _jet ........ the entry points MixtureScore calls
#include "mixture_blocks.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numeric>
#include <type_traits>
#include <vector>

#include "mixture_jet.hpp"

namespace diffpath {

using mixture::assemble_jet;
using mixture::expand;
using mixture::JetSums;
using mixture::SortedTuples;

// Why it is fast. When every component has the same variance v (empirical data sets: point masses, v = 0;
// most analytic mixtures), c = α² v + σ² is common to all components and
//   L_k = log w_k − |x − α μ_k|² / (2c),   e_k = e^(L_k − shift),
//   s = Σ_k e_k (α μ_k − x) / (c Σ_k e_k).
// Three things make this fast without changing the result beyond rounding:
// - Pruning. The components are sorted once into spatially compact blocks of `block` (a
//   multiple of the SIMD width) with bounding boxes. Per point, the boxes bound every block's
//   largest log-term from above and the overall maximum from below; a block whose bound lies
//   kNegligible below the maximum holds components with relative weight < e^−50 ≈ 2e-22 each
//   and is skipped (at small t the posterior concentrates on a few blocks).
// - One fused pass. The exp shift is the boxes' upper bound on max L instead of the exact max,
//   so distances, exp and the weighted sums are one pass over the surviving components, with
//   an exp that vectorises (exp_nonpositive). If the bound overshoots so far that the sum of
//   the e_k falls below kMinSum (points far from the data), the pass is redone with the exact
//   max as the shift.
// - At large t (nothing to prune: every component matters), score() evaluates a Taylor
//   expansion of the log-sum-exp about the data's centre for the points where it converges
//   fast, from moments of the components computed once per call (see TaylorMoments).
// Distances are taken directly as |x − α μ_k|² (in 2D as cheap as the ‖x‖² + ‖αμ‖² − 2αμ·x
// expansion, and free of its cancellation far from the origin); the jet's moments are
// accumulated in the same lane layout (central moments, second pass after s is known).
// Both paths are checked against the general one in tests/test_scores.cpp.

namespace detail {
// Monomials η^α in d ≤ 2 dimensions of total degree ≤ kTaylorDegree + kMaxJetOrder + 1, in
// graded order (graded_index), each built from a parent: α = α(parent) + e_var.
struct TaylorMonomials {
  std::vector<int> parent, var;       // per monomial (index 0, α = 0: unused)
  std::vector<double> inv_factorial;  // per monomial: 1/α!
  std::vector<int> up_to_degree;      // up_to_degree[n]: how many monomials have degree ≤ n
  // Per derivative ∂^γ (|γ| ≤ kMaxJetOrder + 1, graded order) and per evaluated monomial α
  // (degree ≤ kTaylorDegree): the index of α + γ and the factor (α + γ)!/α!.
  std::vector<std::vector<int>> shifted;
  std::vector<std::vector<double>> shift_factor;
  int size() const { return int(parent.size()); }
};

struct MixtureBlocks {
  int d = 0;
  int block = 0;                             // components per block, multiple of kLanes
  int blocks = 0;
  Eigen::Index padded = 0;                   // blocks · block
  double variance = 0;                       // the common component variance v
  std::vector<double> means;                 // coordinate-major: means[j · padded + k]
  std::vector<double> log_w;                 // padded; −∞ in padding slots
  std::vector<double> lo, hi;                // blocks × d: bounding boxes of the means
  std::vector<double> max_log_w, min_log_w;  // per block, over its real components
  std::vector<double> centre;                // centre of the means' bounding box
  double radius = 0;                         // max distance of a mean from the centre (> 0)
  TaylorMonomials taylor;                    // empty: no expansion (d > 2 or few components)
};
}  // namespace detail

namespace {

using detail::MixtureBlocks;

constexpr int kLanes = 8;               // accumulator lanes: one AVX-512 register of doubles
constexpr double kNegligible = 50.0;    // skip blocks whose log-terms are this far below the max
constexpr double kMinExponent = -700.0; // e_k with L_k − shift below this are set to 0
constexpr double kMinSum = 1e-250;      // Σ e_k below this: the shift overshot, redo exactly
constexpr int kMaxFastDim = 8;          // higher dimensions take the general path (and boxes
                                        // prune little there anyway)
constexpr int kTaylorDegree = 23;       // the expansion keeps (β·η)^n / n! for n ≤ 23 ...
constexpr double kTaylorReach = 1.5;    // ... and is used where |β| ≤ 1.5 (see TaylorMoments)
constexpr int kMinTaylorPoints = 32;    // below this many points the moments do not pay off
constexpr int kMaxJetOrder = 3;
constexpr int kMaxTaylorDerivatives = 15;  // multi-indices γ with |γ| ≤ kMaxJetOrder + 1 in 2D

// e^v for kMinExponent ≤ v ≲ 1 to ≤ 1 ulp (measured max relative error 2.2e-16 on [−700, 0]),
// written so that the compiler vectorises it inside lane loops: v = n ln2 + r with |r| ≤ ln2/2
// (two-part ln2, exact n ln2_hi), e^r by its degree-13 Taylor polynomial (truncation
// |r|¹⁴/14! < 5e-18), 2^n added to the exponent bits (n ≥ −1010 keeps the result normal).
inline double exp_nonpositive(double v) {
  constexpr double log2e = 1.4426950408889634, ln2_hi = 6.93147180369123816490e-01,
                   ln2_lo = 1.90821492927058770002e-10, shifter = 0x1.8p52;
  const double shifted = v * log2e + shifter;  // round to nearest integer without a call
  const double n = shifted - shifter;
  const double r = (v - n * ln2_hi) - n * ln2_lo;
  double p = 1.0 / 6227020800.0;
  for (double coefficient : {1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
                             1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0,
                             1.0 / 6.0, 0.5, 1.0, 1.0})
    p = p * r + coefficient;
  const int64_t n_bits = std::bit_cast<int64_t>(shifted) - std::bit_cast<int64_t>(shifter);
  return std::bit_cast<double>(std::bit_cast<int64_t>(p) + (n_bits << 52));
}

// A SIMD register's worth of doubles: Eigen vectorises fixed-size lane arithmetic explicitly.
using Lane = Eigen::Array<double, kLanes, 1>;

// Σ of the lanes, halves first (GCC 12 warns spuriously inside Eigen's full AVX-512 reduction).
inline double lane_sum(const Lane& lanes) {
  return (lanes.head<kLanes / 2>() + lanes.tail<kLanes / 2>()).sum();
}

// e^v lane-wise, 0 where v < kMinExponent (including −∞: padding slots). The plain loop over
// exp_nonpositive vectorises.
inline Lane exp_lanes(const Lane& v) {
  Lane e;
  for (int l = 0; l < kLanes; ++l) {
    const double ev = exp_nonpositive(std::max(v[l], kMinExponent));
    e[l] = v[l] < kMinExponent ? 0.0 : ev;
  }
  return e;
}

// Sorts idx[begin, end) so that every run of `block` indices is spatially compact: k-d
// median splits along the widest coordinate, with split points at multiples of `block`.
void kd_sort(const Points& means, std::vector<Eigen::Index>& idx, size_t begin, size_t end,
             size_t block) {
  if (end - begin <= block) return;
  int axis = 0;
  double widest = -1;
  for (int j = 0; j < means.rows(); ++j) {
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = begin; i < end; ++i) {
      lo = std::min(lo, means(j, idx[i]));
      hi = std::max(hi, means(j, idx[i]));
    }
    if (hi - lo > widest) widest = hi - lo, axis = j;
  }
  const size_t blocks = (end - begin + block - 1) / block;
  const size_t mid = begin + (blocks + 1) / 2 * block;  // < end since blocks ≥ 2
  std::nth_element(idx.begin() + begin, idx.begin() + mid, idx.begin() + end,
                   [&](Eigen::Index a, Eigen::Index b) { return means(axis, a) < means(axis, b); });
  kd_sort(means, idx, begin, mid, block);
  kd_sort(means, idx, mid, end, block);
}

// Position of the multi-index α (d = 1 or 2) in graded order: by degree, then α_0 descending.
int graded_index(int d, std::array<int, 2> alpha) {
  if (d == 1) return alpha[0];
  const int degree = alpha[0] + alpha[1];
  return degree * (degree + 1) / 2 + alpha[1];
}

// The monomial table of TaylorMonomials for d = 1 or 2.
detail::TaylorMonomials taylor_monomials(int d) {
  constexpr int kTop = kTaylorDegree + kMaxJetOrder + 1;
  detail::TaylorMonomials t;
  std::vector<std::array<int, 2>> alphas;
  for (int degree = 0; degree <= kTop; ++degree) {
    for (int a1 = 0; a1 <= (d == 1 ? 0 : degree); ++a1) alphas.push_back({degree - a1, a1});
    t.up_to_degree.push_back(int(alphas.size()));
  }
  double factorial[kTop + 1] = {1};
  for (int n = 1; n <= kTop; ++n) factorial[n] = factorial[n - 1] * n;
  const auto falling = [&](std::array<int, 2> alpha, std::array<int, 2> gamma) {  // (α+γ)!/α!
    return factorial[alpha[0] + gamma[0]] / factorial[alpha[0]] *
           (factorial[alpha[1] + gamma[1]] / factorial[alpha[1]]);
  };
  for (const auto& alpha : alphas) {
    const int j = alpha[0] > 0 ? 0 : 1;
    std::array<int, 2> parent = alpha;
    if (alpha[0] + alpha[1] > 0) --parent[j];
    t.parent.push_back(graded_index(d, parent));
    t.var.push_back(j);
    t.inv_factorial.push_back(1.0 / (factorial[alpha[0]] * factorial[alpha[1]]));
  }
  const int evaluated = t.up_to_degree[kTaylorDegree];
  for (int g = 0; g < t.up_to_degree[kMaxJetOrder + 1]; ++g) {
    const std::array<int, 2> gamma = alphas[g];
    std::vector<int> shifted;
    std::vector<double> factor;
    for (int i = 0; i < evaluated; ++i) {
      shifted.push_back(graded_index(d, {alphas[i][0] + gamma[0], alphas[i][1] + gamma[1]}));
      factor.push_back(falling(alphas[i], gamma));
    }
    t.shifted.push_back(std::move(shifted));
    t.shift_factor.push_back(std::move(factor));
  }
  return t;
}

}  // namespace

// The block layout of a mixture whose positive-weight components share one variance; null if
// they do not (exact comparison: any difference, however tiny, selects the general path).
std::shared_ptr<const MixtureBlocks> detail::build_blocks(const GaussianMixture& g) {
  std::vector<Eigen::Index> idx;
  for (Eigen::Index k = 0; k < g.weights.size(); ++k)
    if (g.weights(k) > 0) idx.push_back(k);
  if (g.dim() > kMaxFastDim) return nullptr;
  for (Eigen::Index k : idx)
    if (g.variances(k) != g.variances(idx[0])) return nullptr;
  auto m = std::make_shared<MixtureBlocks>();
  const size_t K = idx.size();
  // Blocks of ≈ √K/2 components balance the per-point box tests (K/block) against the
  // components evaluated in partially relevant blocks (a few blocks · block). Up to 64
  // components, one block: box tests would cost as much as the components themselves.
  m->d = g.dim();
  const int lane_blocks =
      K <= 64 ? int((K + kLanes - 1) / kLanes)
              : std::clamp(int(std::lround(std::sqrt(double(K)) / (2 * kLanes))), 1, 8);
  m->block = kLanes * lane_blocks;
  m->blocks = int((K + m->block - 1) / m->block);
  m->padded = Eigen::Index(m->blocks) * m->block;
  m->variance = g.variances(idx[0]);
  kd_sort(g.means, idx, 0, K, m->block);

  const int d = m->d;
  const double total = g.weights.sum();
  m->means.assign(size_t(d * m->padded), 0.0);
  m->log_w.assign(size_t(m->padded), -INFINITY);
  m->lo.assign(size_t(m->blocks * d), INFINITY);
  m->hi.assign(size_t(m->blocks * d), -INFINITY);
  m->max_log_w.assign(m->blocks, -INFINITY);
  m->min_log_w.assign(m->blocks, INFINITY);
  m->centre.assign(d, 0.0);
  for (int j = 0; j < d; ++j) {
    double lo = INFINITY, hi = -INFINITY;
    for (Eigen::Index k : idx) lo = std::min(lo, g.means(j, k)), hi = std::max(hi, g.means(j, k));
    m->centre[j] = 0.5 * (lo + hi);
  }
  for (Eigen::Index k : idx) {
    double r2 = 0;
    for (int j = 0; j < d; ++j) r2 += std::pow(g.means(j, k) - m->centre[j], 2);
    m->radius = std::max(m->radius, std::sqrt(r2));
  }
  if (!(m->radius > 0)) m->radius = 1;  // one location: η = 0, any scale will do
  if (d <= 2) {
    // Per point the expansion costs a few flops per monomial of degree ≤ N against ≈ 30 per
    // component directly: it pays off only for many components.
    m->taylor = taylor_monomials(d);
    if (K < 2 * size_t(m->taylor.up_to_degree[kTaylorDegree])) m->taylor = {};
  }
  for (size_t i = 0; i < K; ++i) {
    const int b = int(i) / m->block;
    const double log_w = std::log(g.weights(idx[i]) / total);
    m->log_w[i] = log_w;
    m->max_log_w[b] = std::max(m->max_log_w[b], log_w);
    m->min_log_w[b] = std::min(m->min_log_w[b], log_w);
    for (int j = 0; j < d; ++j) {
      const double mu = g.means(j, idx[i]);
      m->means[j * m->padded + i] = mu;
      m->lo[b * d + j] = std::min(m->lo[b * d + j], mu);
      m->hi[b * d + j] = std::max(m->hi[b * d + j], mu);
    }
  }
  return m;
}

namespace {

// The blocks at one time t plus per-call scratch (one per call: calls are thread-safe).
struct BlockFrame {
  const MixtureBlocks& m;
  double alpha, c, h;            // α(t), common variance c, h = 1/(2c)
  std::vector<int> active;       // blocks that survive pruning at the current point
  std::vector<double> block_upper;  // per block: upper bound on its log-terms at the point
  std::vector<double> e;         // e_k of the active blocks' components (jet)
  std::vector<Lane> acc, prod, w;  // moment pass: sums, one lane block's products, w = u − s

  BlockFrame(const MixtureBlocks& blocks, const Schedule& schedule, double t,
             const std::string& spec)
      : m(blocks), alpha(schedule.alpha(t)),
        c(alpha * alpha * blocks.variance + schedule.sigma2(t)), h(0.5 / c),
        block_upper(size_t(blocks.blocks)), e(size_t(blocks.padded)) {
    if (!(c > 0))
      throw Error("mixture score '" + spec + "': a component has zero variance at t = " +
                  std::to_string(t) + " (point masses need t > 0)");
    active.reserve(blocks.blocks);
  }

  // Fills `active` for the point x; returns an upper bound on max_k L_k (the exp shift).
  double select_blocks(const double* x) {
    const int d = m.d;
    double upper = -INFINITY, lower = -INFINITY;  // bounds on max_k L_k
    for (int b = 0; b < m.blocks; ++b) {
      double near = 0, far = 0;  // squared distances from x to the box and its farthest corner
      for (int j = 0; j < d; ++j) {
        const double below = alpha * m.lo[b * d + j] - x[j], above = x[j] - alpha * m.hi[b * d + j];
        const double gap = std::max({below, above, 0.0}), reach = std::max(-below, -above);
        near += gap * gap;
        far += reach * reach;
      }
      block_upper[b] = m.max_log_w[b] - h * near;
      upper = std::max(upper, block_upper[b]);
      lower = std::max(lower, m.min_log_w[b] - h * far);
    }
    active.clear();
    for (int b = 0; b < m.blocks; ++b)
      if (block_upper[b] >= lower - kNegligible) active.push_back(b);
    return upper;
  }

  // max_k L_k over the active blocks (the exact shift, for the rare redo).
  double max_log_term(const double* x) const {
    double best = -INFINITY;
    for (int b : active)
      for (Eigen::Index k = Eigen::Index(b) * m.block; k < Eigen::Index(b + 1) * m.block; ++k) {
        double q = 0;
        for (int j = 0; j < m.d; ++j) {
          const double dx = alpha * m.means[j * m.padded + k] - x[j];
          q += dx * dx;
        }
        best = std::max(best, m.log_w[k] - h * q);
      }
    return best;
  }

  // One fused pass over the active blocks: returns z = Σ e_k and writes S_j = Σ e_k (α μ_kj − x_j),
  // e_k = exp(L_k − shift); keeps the e_k in `e` if asked. D > 0: the dimension at compile time.
  // Everything the loop reads is copied to locals first: stores through a double* could
  // otherwise alias the members and force reloads in the inner loop.
  template <int D>
  double exp_sums(const double* x_in, double shift, double* S, bool keep_e) {
    const int d = D > 0 ? D : m.d;
    const Eigen::Index P = m.padded, block = m.block;
    const double* __restrict mean = m.means.data();
    const double* __restrict log_w = m.log_w.data();
    double* __restrict e_out = e.data();
    const double a = alpha, hh = h;
    double x[kMaxFastDim];
    std::copy(x_in, x_in + d, x);
    Lane z_lanes = Lane::Zero(), s_lanes[kMaxFastDim];
    for (int j = 0; j < d; ++j) s_lanes[j].setZero();
    for (int b : active) {
      for (Eigen::Index k = b * block; k < (b + 1) * block; k += kLanes) {
        Lane dx[kMaxFastDim], q = Lane::Zero();
        for (int j = 0; j < d; ++j) {
          dx[j] = a * Lane::Map(mean + j * P + k) - x[j];
          q += dx[j].square();
        }
        const Lane v = Lane::Map(log_w + k) - hh * q - shift;
        const Lane ek = exp_lanes(v);
        z_lanes += ek;
        for (int j = 0; j < d; ++j) s_lanes[j] += ek * dx[j];
        if (keep_e) {
          Lane::Map(e_out) = ek;
          e_out += kLanes;
        }
      }
    }
    for (int j = 0; j < d; ++j) S[j] = lane_sum(s_lanes[j]);
    return lane_sum(z_lanes);
  }

  // z and S of exp_sums with a shift that keeps the largest e_k near 1: the box bound, redone
  // with the exact max if it overshot (far from the data).
  template <int D>
  double normalised_sums(const double* x, double* S, bool keep_e) {
    const double z = exp_sums<D>(x, select_blocks(x), S, keep_e);
    if (z >= kMinSum) return z;
    return exp_sums<D>(x, max_log_term(x), S, keep_e);
  }

  // The moment sums of the jet at x (JetSums, here with c common) from the e_k kept by the
  // last pass, its z and the score s: lane-wise products w⊗…⊗w built rank by rank.
  template <int D>
  void moment_sums(const double* x, double z, const double* s,
                   const std::vector<SortedTuples>& tuples, int order, JetSums& out) {
    const int d = D > 0 ? D : m.d;
    const int max_rank = order + 1;
    const double inv_c = 1.0 / c, inv_z = 1.0 / z;
    int offset[6] = {0};  // lane rows per rank: rank 1 at offset[1], …, Σ r at offset[0]
    int count = 1;
    for (int rank = 1; rank <= max_rank; ++rank) offset[rank] = count, count += tuples[rank].size();
    double x0[kMaxFastDim], s0[kMaxFastDim];  // locals: no aliasing with the stores below
    std::copy(x, x + d, x0);
    std::copy(s, s + d, s0);
    const double a = alpha;
    acc.assign(size_t(count), Lane::Zero());  // Σ r, then per rank the sums Σ r w⊗…⊗w
    prod.resize(size_t(count));               // the same products for one lane block
    w.resize(size_t(d));
    Lane* __restrict pr = prod.data();
    Lane* __restrict ac = acc.data();
    Lane* __restrict wl = w.data();
    const double* e_in = e.data();
    for (int b : active) {
      for (Eigen::Index k = Eigen::Index(b) * m.block; k < Eigen::Index(b + 1) * m.block;
           k += kLanes, e_in += kLanes) {
        pr[0] = Lane::Map(e_in) * inv_z;  // r
        for (int j = 0; j < d; ++j) {
          wl[j] = (a * Lane::Map(mean_row(j) + k) - x0[j]) * inv_c - s0[j];
          pr[offset[1] + j] = pr[0] * wl[j];
        }
        for (int rank = 2; rank <= max_rank; ++rank) {
          const SortedTuples& t = tuples[rank];
          for (int u = 0; u < t.size(); ++u)
            pr[offset[rank] + u] = pr[offset[rank - 1] + t.parent[u]] * wl[t.last[u]];
        }
        for (int i = 0; i < count; ++i) ac[i] += pr[i];
      }
    }
    std::vector<double> total(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) total[i] = lane_sum(acc[i]);
    // With c common: A = Σ r w / c, B = E2 / c, S1 = Σ r / c, S2 = Σ r / c².
    out.S1 = total[0] * inv_c;
    out.S2 = total[0] * inv_c * inv_c;
    expand(tuples[2], total.data() + offset[2], out.E2);
    if (order < 2) return;
    expand(tuples[1], total.data() + offset[1], out.A);
    out.A *= inv_c;
    expand(tuples[3], total.data() + offset[3], out.E3);
    if (order < 3) return;
    out.B = out.E2 * inv_c;
    expand(tuples[4], total.data() + offset[4], out.E4);
  }

  const double* mean_row(int j) const { return m.means.data() + j * m.padded; }
};

// Calls run(std::integral_constant<int, D>) with the point dimension D as a compile-time
// constant for the common small dimensions, D = 0 (read at run time) otherwise.
template <class Run>
void with_dimension(int d, Run&& run) {
  switch (d) {
    case 1: return run(std::integral_constant<int, 1>{});
    case 2: return run(std::integral_constant<int, 2>{});
    case 3: return run(std::integral_constant<int, 3>{});
    default: return run(std::integral_constant<int, 0>{});
  }
}

// ---------------------------------------------------------------- Taylor expansion (large t)
//
// With the diffused means y_k = ȳ + δ_k about the centre ȳ = α·centre, z = x − ȳ, R = α·radius:
//   L_k = log w_k − |z − δ_k|²/(2c) = [log w_k − |δ_k|²/(2c)] − |z|²/(2c) + β·η_k,
//   β = R z / c,  η_k = δ_k / R  (|η_k| ≤ 1).
// So r_k ∝ g_k e^(β·η_k), g_k = e^(log w_k − |δ_k|²/(2c) − G), and with F(β) = Σ_k g_k e^(β·η_k):
//   Σ_k r_k δ_k = R ∇F/F,   s = (R ∇F/F − z) / c.
// Expanding e^(β·η) = Σ_n (β·η)^n/n! gives F = Σ_α M_α β^α with moments M_α = Σ_k g_k η_k^α/α!
// computed once per call (one pass over the components), after which a point costs a few
// hundred flops instead of one exp per component. For |β| ≤ B = 1.5 (kTaylorReach),
// |β·η| ≤ B: truncating after degree N = 23 changes F and ∇F by ≤ e^B B^N/N! against a sum
// ≥ e^−B Σ g, i.e. ≤ e^2B B^N/N! ≈ 9e-18 relative; the rounding of the terms (each ≤ e^B Σ g)
// is ≤ e^2B ε ≈ 2e-15 relative in ∇F/F in the worst case, which enters s multiplied by R/c
// (measured against the direct sums: ≤ 1e-15 of |s| + 1/√c). This is the regime of large t
// (c → 1, α → 0), exactly where pruning cannot skip anything.

// The moments M_α and, per derivative ∂^γ with |γ| ≤ order, the coefficients of
// ∂^γ F(β) = Σ_α C_γα β^α, C_γα = (α + γ)!/α! · M_(α+γ) (α of degree ≤ N).
struct TaylorMoments {
  std::vector<std::vector<double>> C;  // per γ (graded order), per evaluated monomial

  TaylorMoments(const MixtureBlocks& m, const BlockFrame& f, int order) {
    const detail::TaylorMonomials& t = m.taylor;
    const int d = m.d, T = t.up_to_degree[kTaylorDegree + order];
    const Eigen::Index P = m.padded;
    const double r_scale = f.alpha * f.alpha * f.h;  // |δ|²/(2c) = α² h |μ − centre|²
    // Log-terms at the centre and their max G (for g ≤ 1).
    std::vector<double> log_g(static_cast<size_t>(P), -INFINITY);
    double G = -INFINITY;
    for (Eigen::Index k = 0; k < P; ++k) {
      if (m.log_w[k] == -INFINITY) continue;  // padding
      double r2 = 0;
      for (int j = 0; j < d; ++j) r2 += square(m.means[j * P + k] - m.centre[j]);
      log_g[k] = m.log_w[k] - r_scale * r2;
      G = std::max(G, log_g[k]);
    }
    // Σ_k g_k η_k^α, lane-wise over the components, monomials built from their parents.
    std::vector<Lane> mono(static_cast<size_t>(T)), acc(static_cast<size_t>(T), Lane::Zero());
    const double inv_radius = 1.0 / m.radius;
    for (Eigen::Index k = 0; k < P; k += kLanes) {
      Lane eta[2];
      for (int j = 0; j < d; ++j)
        eta[j] = (Lane::Map(&m.means[j * P + k]) - m.centre[j]) * inv_radius;
      mono[0] = exp_lanes(Lane::Map(&log_g[k]) - G);
      acc[0] += mono[0];
      for (int i = 1; i < T; ++i) {
        mono[i] = mono[t.parent[i]] * eta[t.var[i]];
        acc[i] += mono[i];
      }
    }
    std::vector<double> M(static_cast<size_t>(T));
    for (int i = 0; i < T; ++i) M[i] = lane_sum(acc[i]) * t.inv_factorial[i];
    C.resize(size_t(t.up_to_degree[order]));
    for (size_t g = 0; g < C.size(); ++g) {
      C[g].resize(t.shifted[g].size());
      for (size_t i = 0; i < C[g].size(); ++i) C[g][i] = t.shift_factor[g][i] * M[t.shifted[g][i]];
    }
  }

  static double square(double v) { return v * v; }
};

// For the points `cols` of x (all with |β| ≤ kTaylorReach), kLanes at a time (the last group
// padded by repeating a point): calls done(col, z, m) per point with z = x − ȳ and the raw
// moments m_γ = ∂^γF/F = E_r[η^γ] for |γ| ≤ the moments' order (graded order).
template <class Done>
void taylor_moments_at(const MixtureBlocks& m, const BlockFrame& f, const TaylorMoments& moments,
                       const Points& x, const std::vector<Eigen::Index>& cols, Done done) {
  const detail::TaylorMonomials& t = m.taylor;
  const int d = m.d, evaluated = t.up_to_degree[kTaylorDegree], G = int(moments.C.size());
  const double beta_scale = f.alpha * m.radius / f.c;
  std::vector<Lane> mono(static_cast<size_t>(evaluated)), D(static_cast<size_t>(G));
  for (size_t first = 0; first < cols.size(); first += kLanes) {
    Eigen::Index col[kLanes];
    for (int l = 0; l < kLanes; ++l) col[l] = cols[std::min(first + l, cols.size() - 1)];
    Lane z[2], beta[2];
    for (int j = 0; j < d; ++j) {
      for (int l = 0; l < kLanes; ++l) z[j][l] = x(j, col[l]) - f.alpha * m.centre[j];
      beta[j] = z[j] * beta_scale;
    }
    for (int g = 0; g < G; ++g) D[g].setConstant(moments.C[g][0]);
    mono[0].setOnes();
    for (int i = 1; i < evaluated; ++i) {
      mono[i] = mono[t.parent[i]] * beta[t.var[i]];
      for (int g = 0; g < G; ++g) D[g] += moments.C[g][i] * mono[i];
    }
    for (int g = G - 1; g >= 0; --g) D[g] /= D[0];  // D[0] last: it is the divisor
    double mom[kMaxTaylorDerivatives], zl[2];
    for (int l = 0; l < kLanes && first + l < cols.size(); ++l) {
      for (int g = 0; g < G; ++g) mom[g] = D[g][l];
      for (int j = 0; j < d; ++j) zl[j] = z[j][l];
      done(col[l], zl, mom);
    }
  }
}

// The jet (order ≤ 3) of one point from z = x − ȳ and its raw moments E_r[η^γ]: with
// w = R(η − E η)/c the centred u, J, H, T are (R/c)^n times the cumulants of η, minus I/c for J.
void taylor_jet_point(int d, double R, double c, int order, const double* z, const double* mom,
                      double* s, double* J, double* H, double* T) {
  const auto m = [&](std::initializer_list<int> axes) {  // E_r[Π η_a]
    std::array<int, 2> gamma = {0, 0};
    for (int a : axes) ++gamma[a];
    return mom[graded_index(d, gamma)];
  };
  const double k = R / c;
  const JetIndex ix{d};
  for (int a = 0; a < d; ++a) s[a] = (R * m({a}) - z[a]) / c;
  if (order < 1) return;
  for (int a = 0; a < d; ++a)
    for (int b = 0; b < d; ++b)
      J[ix.J(a, b)] = k * k * (m({a, b}) - m({a}) * m({b})) - (a == b ? 1.0 / c : 0.0);
  if (order < 2) return;
  for (int a = 0; a < d; ++a)
    for (int b = 0; b < d; ++b)
      for (int e = 0; e < d; ++e) {
        const double k3 = m({a, b, e}) - m({a, b}) * m({e}) - m({a, e}) * m({b}) -
                          m({b, e}) * m({a}) + 2 * m({a}) * m({b}) * m({e});
        H[ix.H(a, b, e)] = k * k * k * k3;
      }
  if (order < 3) return;
  for (int a = 0; a < d; ++a)
    for (int b = 0; b < d; ++b)
      for (int e = 0; e < d; ++e)
        for (int f = 0; f < d; ++f) {
          const double ma = m({a}), mb = m({b}), me = m({e}), mf = m({f});
          const double k4 =
              m({a, b, e, f}) -
              (m({a, b, e}) * mf + m({a, b, f}) * me + m({a, e, f}) * mb + m({b, e, f}) * ma) -
              (m({a, b}) * m({e, f}) + m({a, e}) * m({b, f}) + m({a, f}) * m({b, e})) +
              2 * (m({a, b}) * me * mf + m({a, e}) * mb * mf + m({a, f}) * mb * me +
                   m({b, e}) * ma * mf + m({b, f}) * ma * me + m({e, f}) * ma * mb) -
              6 * ma * mb * me * mf;
          T[ix.T(a, b, e, f)] = k * k * k * k * k4;
        }
}

// The columns of x where the expansion holds (|β| ≤ kTaylorReach), if there are enough of them
// to pay for the moments; empty otherwise.
std::vector<Eigen::Index> taylor_points(const MixtureBlocks& m, const BlockFrame& f,
                                        const Points& x) {
  std::vector<Eigen::Index> cols;
  if (m.taylor.size() == 0) return cols;
  const double scale = f.alpha * m.radius / f.c;  // |β| = scale · |z|
  for (Eigen::Index i = 0; i < x.cols(); ++i) {
    double z2 = 0;
    for (int j = 0; j < m.d; ++j) z2 += std::pow(x(j, i) - f.alpha * m.centre[j], 2);
    if (scale * std::sqrt(z2) <= kTaylorReach) cols.push_back(i);  // false for NaN
  }
  if (cols.size() < size_t(kMinTaylorPoints)) cols.clear();
  return cols;
}

}  // namespace

// score() and jet() of the fast path: per point, the pruned fused pass (and for jets the
// moment pass); non-finite points get NaN, as in the general path.
void detail::equal_variance_score(const MixtureBlocks& blocks, const Schedule& schedule, double t,
                          const std::string& spec, const Points& x, Points& out) {
  BlockFrame f(blocks, schedule, t, spec);
  const std::vector<Eigen::Index> near = taylor_points(blocks, f, x);
  std::vector<char> done(size_t(x.cols()), 0);
  if (!near.empty()) {
    const double R = f.alpha * blocks.radius;
    taylor_moments_at(blocks, f, TaylorMoments(blocks, f, 1), x, near,
                      [&](Eigen::Index i, const double* z, const double* mom) {
                        taylor_jet_point(blocks.d, R, f.c, 0, z, mom, out.col(i).data(), nullptr,
                                         nullptr, nullptr);
                        done[i] = 1;
                      });
  }
  with_dimension(blocks.d, [&](auto D) {
    for (Eigen::Index i = 0; i < x.cols(); ++i) {
      if (done[i]) continue;
      double* s = out.col(i).data();
      if (!x.col(i).allFinite()) {
        out.col(i).setConstant(NAN);
        continue;
      }
      const double z = f.template normalised_sums<D()>(x.col(i).data(), s, false);
      for (int j = 0; j < blocks.d; ++j) s[j] /= z * f.c;
    }
  });
}

void detail::equal_variance_jet(const MixtureBlocks& blocks, const Schedule& schedule, double t,
                        const std::string& spec, const Points& x, int order, ScoreJet& out) {
  BlockFrame f(blocks, schedule, t, spec);
  const std::vector<Eigen::Index> near = taylor_points(blocks, f, x);
  std::vector<char> done(size_t(x.cols()), 0);
  if (!near.empty()) {
    const double R = f.alpha * blocks.radius;
    const auto column = [&](Eigen::MatrixXd& block, int min_order, Eigen::Index i) {
      return order >= min_order ? block.col(i).data() : nullptr;
    };
    taylor_moments_at(blocks, f, TaylorMoments(blocks, f, order + 1), x, near,
                      [&](Eigen::Index i, const double* z, const double* mom) {
                        taylor_jet_point(blocks.d, R, f.c, order, z, mom, out.s.col(i).data(),
                                         column(out.J, 1, i), column(out.H, 2, i),
                                         column(out.T, 3, i));
                        done[i] = 1;
                      });
  }
  const std::vector<SortedTuples> tuples = SortedTuples::up_to_rank(blocks.d, 4);
  JetSums sums(blocks.d);
  with_dimension(blocks.d, [&](auto D) {
    for (Eigen::Index i = 0; i < x.cols(); ++i) {
      if (done[i]) continue;
      const double* xi = x.col(i).data();
      double* s = out.s.col(i).data();
      if (!x.col(i).allFinite()) {
        out.s.col(i).setConstant(NAN);
        if (order >= 1) out.J.col(i).setConstant(NAN);
        if (order >= 2) out.H.col(i).setConstant(NAN);
        if (order >= 3) out.T.col(i).setConstant(NAN);
        continue;
      }
      const double z = f.template normalised_sums<D()>(xi, s, order > 0);
      for (int j = 0; j < blocks.d; ++j) s[j] /= z * f.c;
      if (order == 0) continue;
      f.template moment_sums<D()>(xi, z, s, tuples, order, sums);
      assemble_jet(sums, order, out.J.col(i).data(), order >= 2 ? out.H.col(i).data() : nullptr,
                   order >= 3 ? out.T.col(i).data() : nullptr);
    }
  });
}

}  // namespace diffpath
