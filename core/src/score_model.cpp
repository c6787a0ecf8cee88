// Analytic score models (score_model.hpp): the linear Gaussian score with error knobs and the
// exact score of a Gaussian mixture (including point masses: the empirical "ideal" score).
#include "diffpath/score_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <numeric>
#include <type_traits>
#include <vector>

#include "mixture_blocks.hpp"
#include "mixture_jet.hpp"

namespace diffpath {
namespace {

void check_batch(const Points& x, int d, const char* who) {
  if (x.rows() != d)
    throw Error(std::string(who) + ": points have dimension " + std::to_string(x.rows()) +
                ", the model has " + std::to_string(d));
}

void check_order(int order, const char* who) {
  if (order < 0 || order > 3)
    throw Error(std::string(who) + ": derivative order " + std::to_string(order) +
                " is not in 0..3");
}

// Sizes the jet's blocks for `order` (blocks above it are left as they are).
void resize_jet(ScoreJet& jet, int d, Eigen::Index n, int order) {
  jet.order = order;
  jet.s.resize(d, n);
  if (order >= 1) jet.J.resize(d * d, n);
  if (order >= 2) jet.H.resize(d * d * d, n);
  if (order >= 3) jet.T.resize(d * d * d * d, n);
}

}  // namespace

// ================================================================ GaussianScore

GaussianScore::GaussianScore(GaussianScoreParams params, Schedule schedule)
    : params_(params), schedule_(schedule) {
  const auto& p = params_;
  if (p.d < 1) throw Error("gaussian score: d must be >= 1");
  if (!std::isfinite(p.m) || !std::isfinite(p.v) || !std::isfinite(p.eps) || !std::isfinite(p.delta))
    throw Error("gaussian score: m, v, eps and delta must be finite");
  if (p.v < 0) throw Error("gaussian score: variance v must be >= 0");
  if (!(1.0 + p.eps > 0)) throw Error("gaussian score: eps must be > -1 (b = (1+eps) b* > 0)");
}

std::string GaussianScore::spec() const {
  return "gaussian:m=" + format_number(params_.m) + ",v=" + format_number(params_.v) +
         ",eps=" + format_number(params_.eps) + ",delta=" + format_number(params_.delta) +
         ",d=" + std::to_string(params_.d);
}

double GaussianScore::a(double t) const { return schedule_.alpha(t) * params_.m + params_.delta; }

double GaussianScore::b(double t) const {
  const double alpha = schedule_.alpha(t);
  return (1.0 + params_.eps) * (alpha * alpha * params_.v + schedule_.sigma2(t));
}

void GaussianScore::score(const Points& x, double t, Points& out) const {
  check_batch(x, params_.d, "gaussian score");
  out = (x.array() - a(t)) * (-1.0 / b(t));
}

void GaussianScore::jet(const Points& x, double t, int order, ScoreJet& out) const {
  check_batch(x, params_.d, "gaussian score");
  check_order(order, "gaussian score");
  const int d = params_.d;
  resize_jet(out, d, x.cols(), order);
  score(x, t, out.s);
  if (order >= 1) {  // J = −I/b; the score is linear, so H = T = 0
    out.J.setZero();
    for (int i = 0; i < d; ++i) out.J.row(JetIndex{d}.J(i, i)).setConstant(-1.0 / b(t));
  }
  if (order >= 2) out.H.setZero();
  if (order >= 3) out.T.setZero();
}

// ================================================================ MixtureScore
//
// p_t = Σ_k w_k N(α μ_k, c_k I), c_k = α² v_k + σ². With responsibilities r_k (softmax of the
// log terms, computed with log-sum-exp) and u_k = −(x − α μ_k)/c_k, log p_t is a log-sum-exp
// of quadratics, so its derivatives are cumulants: s = Σ r_k u_k, and with w_k = u_k − s,
//   ∂s   = M2,  M2_ab   = Σ r (w_a w_b − δ_ab/c)
//   ∂²s  = M3,  M3_abc  = Σ r (w_a w_b w_c − (δ_ab w_c + δ_ac w_b + δ_bc w_a)/c)
//   ∂³s  = M4 − (M2_ab M2_ce + M2_ac M2_be + M2_ae M2_bc),
//              M4_abce = Σ r (w_a w_b w_c w_e − (6 terms δ_·· w_· w_·)/c + (3 terms δ_·· δ_··)/c²).
// (Differentiate E_r[f] → E_r[∂f] + E_r[f w]; checked against finite differences in tests.)
//
// Cost: per point, a few vectorised passes over the K components (the exp dominates); all
// buffers are allocated once per call, never per point. Calls are single-threaded and const:
// samplers parallelise over particles and call score() on their own chunks. A mixture whose
// components share one variance (the empirical data set, most built-ins) takes the fast path
// of mixture_blocks.cpp instead.

namespace {

using mixture::assemble_jet;
using mixture::expand;
using mixture::JetSums;
using mixture::SortedTuples;

// The diffused mixture at one time, laid out for vectorised loops over components.
struct DiffusedMixture {
  Eigen::ArrayXXd mean;       // K × d: α μ_k (each coordinate contiguous over k)
  Eigen::ArrayXd inv_c;       // K: 1/c_k
  Eigen::ArrayXd half_inv_c;  // K: 1/(2 c_k)
  Eigen::ArrayXd bias;        // K: log w_k − (d/2) log c_k (the common −(d/2) log 2π dropped)
};

// Unnormalised responsibilities e_k = exp(L_k − max L) of the point x into e (K, reused
// across points so the hot loop does not allocate); returns Σ e (log-sum-exp: r = e / Σ e).
// One fused pass for the logits in 1D and 2D, then the max, then a vectorised exp.
double responsibilities(const DiffusedMixture& p, const double* x, Eigen::ArrayXd& e) {
  const Eigen::Index d = p.mean.cols();
  if (d == 1) {
    e = p.bias - p.half_inv_c * (p.mean.col(0) - x[0]).square();
  } else if (d == 2) {
    e = p.bias - p.half_inv_c * ((p.mean.col(0) - x[0]).square() + (p.mean.col(1) - x[1]).square());
  } else {
    e = (p.mean.col(0) - x[0]).square();
    for (Eigen::Index j = 1; j < d; ++j) e += (p.mean.col(j) - x[j]).square();
    e = p.bias - p.half_inv_c * e;
  }
  // Clamping at −700 keeps exp out of the subnormal range (which is slow on x86): a clamped
  // component keeps a weight e^−700 ≈ 1e-304 relative, far below rounding.
  e = (e - e.maxCoeff()).max(-700.0).exp();
  return e.sum();
}

// The sums of JetSums for the general mixture, each a vectorised sum over the K components,
// one per distinct (sorted) index tuple.
struct CumulantSums : JetSums {
  std::vector<SortedTuples> tuples;  // ranks 0..4
  Eigen::ArrayXXd w, P1, P2, P3;     // K × tuples: w_k, r w, r w⊗w, r w⊗w⊗w

  CumulantSums(int dim, Eigen::Index K)
      : JetSums(dim), tuples(SortedTuples::up_to_rank(dim, 4)), w(K, d), P1(K, d),
        P2(K, tuples[2].size()), P3(K, tuples[3].size()), distinct_(tuples[4].size()) {}

  // r: normalised responsibilities; w must hold u_k − s.
  void compute(const Eigen::ArrayXd& r, const Eigen::ArrayXd& inv_c, int order) {
    S1 = (r * inv_c).sum();
    for (int a = 0; a < d; ++a) P1.col(a) = r * w.col(a);
    const SortedTuples &t2 = tuples[2], &t3 = tuples[3], &t4 = tuples[4];
    for (int s = 0; s < t2.size(); ++s) P2.col(s) = P1.col(t2.parent[s]) * w.col(t2.last[s]);
    expand_sums(t2, [&](int s) { return P2.col(s).sum(); }, E2);
    if (order < 2) return;
    expand_sums(tuples[1], [&](int s) { return (P1.col(s) * inv_c).sum(); }, A);
    for (int s = 0; s < t3.size(); ++s) P3.col(s) = P2.col(t3.parent[s]) * w.col(t3.last[s]);
    expand_sums(t3, [&](int s) { return P3.col(s).sum(); }, E3);
    if (order < 3) return;
    S2 = (r * inv_c.square()).sum();
    expand_sums(t2, [&](int s) { return (P2.col(s) * inv_c).sum(); }, B);
    expand_sums(t4, [&](int s) { return (P3.col(t4.parent[s]) * w.col(t4.last[s])).sum(); }, E4);
  }

 private:
  std::vector<double> distinct_;  // one value per sorted tuple (sized for rank 4 in the ctor)

  template <class SumOf>
  void expand_sums(const SortedTuples& t, SumOf sum_of, Eigen::VectorXd& flat) {
    for (int s = 0; s < t.size(); ++s) distinct_[s] = sum_of(s);
    expand(t, distinct_.data(), flat);
  }
};

}  // namespace

MixtureScore::MixtureScore(GaussianMixture data, Schedule schedule, std::string spec)
    : data_(std::move(data)), schedule_(schedule), spec_(std::move(spec)) {
  const Eigen::Index K = data_.means.cols();
  if (K == 0 || data_.dim() == 0) throw Error("mixture score '" + spec_ + "': no components");
  if (data_.weights.size() != K || data_.variances.size() != K)
    throw Error("mixture score '" + spec_ + "': weights, means and variances differ in count");
  if (!data_.means.allFinite() || !data_.weights.allFinite() || !data_.variances.allFinite() ||
      (data_.weights.array() < 0).any() || (data_.variances.array() < 0).any() ||
      !(data_.weights.sum() > 0))
    throw Error("mixture score '" + spec_ +
                "': need finite means, non-negative weights (not all 0) and variances");
  blocks_ = detail::build_blocks(data_);
}

namespace {
// The mixture at time t in the layout of DiffusedMixture; zero-weight components are dropped
// (they would give log 0 = −∞ biases).
DiffusedMixture diffuse(const GaussianMixture& data, const Schedule& schedule, double t,
                        const std::string& spec) {
  const double alpha = schedule.alpha(t), sigma2 = schedule.sigma2(t);
  const double total = data.weights.sum();
  const int d = data.dim();
  Eigen::Index K = 0;
  for (Eigen::Index k = 0; k < data.weights.size(); ++k) K += data.weights(k) > 0;
  DiffusedMixture p;
  p.mean.resize(K, d);
  p.inv_c.resize(K);
  p.half_inv_c.resize(K);
  p.bias.resize(K);
  for (Eigen::Index k = 0, i = 0; k < data.weights.size(); ++k) {
    if (!(data.weights(k) > 0)) continue;
    const double c = alpha * alpha * data.variances(k) + sigma2;
    if (!(c > 0))
      throw Error("mixture score '" + spec + "': a component has zero variance at t = " +
                  std::to_string(t) + " (point masses need t > 0)");
    p.mean.row(i) = alpha * data.means.col(k).transpose().array();
    p.inv_c(i) = 1.0 / c;
    p.half_inv_c(i) = 0.5 / c;
    p.bias(i) = std::log(data.weights(k) / total) - 0.5 * d * std::log(c);
    ++i;
  }
  return p;
}
}  // namespace

void MixtureScore::score(const Points& x, double t, Points& out) const {
  check_batch(x, dim(), "mixture score");
  out.resize(x.rows(), x.cols());
  if (blocks_) return detail::equal_variance_score(*blocks_, schedule_, t, spec_, x, out);
  const DiffusedMixture p = diffuse(data_, schedule_, t, spec_);
  Eigen::ArrayXd e(p.inv_c.size());
  for (Eigen::Index i = 0; i < x.cols(); ++i) {
    const double* xi = x.col(i).data();
    const double z = responsibilities(p, xi, e);
    e *= p.inv_c;  // s_j = Σ r_k (α μ_kj − x_j)/c_k, summed directly (no x Σ r/c cancellation)
    for (Eigen::Index j = 0; j < x.rows(); ++j) out(j, i) = ((p.mean.col(j) - xi[j]) * e).sum() / z;
  }
}

void MixtureScore::jet(const Points& x, double t, int order, ScoreJet& out) const {
  check_batch(x, dim(), "mixture score");
  check_order(order, "mixture score");
  const int d = dim();
  resize_jet(out, d, x.cols(), order);
  if (blocks_) return detail::equal_variance_jet(*blocks_, schedule_, t, spec_, x, order, out);
  const DiffusedMixture p = diffuse(data_, schedule_, t, spec_);
  const Eigen::Index K = p.inv_c.size();
  Eigen::ArrayXd r(K);
  CumulantSums sums(d, K);
  for (Eigen::Index i = 0; i < x.cols(); ++i) {
    const double* xi = x.col(i).data();
    const double z = responsibilities(p, xi, r);
    r /= z;
    for (int j = 0; j < d; ++j) {
      sums.w.col(j) = (p.mean.col(j) - xi[j]) * p.inv_c;  // u_k
      out.s(j, i) = (r * sums.w.col(j)).sum();
    }
    if (order == 0) continue;
    for (int j = 0; j < d; ++j) sums.w.col(j) -= out.s(j, i);  // centred: w_k = u_k − s
    sums.compute(r, p.inv_c, order);
    assemble_jet(sums, order, out.J.col(i).data(), order >= 2 ? out.H.col(i).data() : nullptr,
                 order >= 3 ? out.T.col(i).data() : nullptr);
  }
}

}  // namespace diffpath
