// Analytic score models (score_model.hpp): the linear Gaussian score with error knobs and the
// exact score of a Gaussian mixture (including point masses: the empirical "ideal" score).
#include "diffpath/score_model.hpp"

#include <cmath>
#include <cstdio>

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
  char buf[200];
  std::snprintf(buf, sizeof buf, "gaussian:m=%.17g,v=%.17g,eps=%.17g,delta=%.17g,d=%d", params_.m,
                params_.v, params_.eps, params_.delta, params_.d);
  return buf;
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
    for (int i = 0; i < d; ++i) out.J.row(i * d + i).setConstant(-1.0 / b(t));
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

namespace {

// The diffused mixture at one time, laid out for vectorised loops over components.
struct DiffusedMixture {
  Eigen::ArrayXXd mean;   // K × d: α μ_k (each coordinate contiguous over k)
  Eigen::ArrayXd inv_c;   // K: 1/c_k
  Eigen::ArrayXd bias;    // K: log w_k − (d/2) log c_k (the common −(d/2) log 2π dropped)
};

// Responsibilities r (K) of the point x. `scratch` is a K-buffer reused across points so the
// hot loop does not allocate. Log-sum-exp: r = exp(L − max L) / Σ exp(L − max L).
void responsibilities(const DiffusedMixture& p, const double* x, Eigen::ArrayXd& scratch,
                      Eigen::ArrayXd& r) {
  scratch = (p.mean.col(0) - x[0]).square();
  for (Eigen::Index j = 1; j < p.mean.cols(); ++j) scratch += (p.mean.col(j) - x[j]).square();
  scratch = p.bias - 0.5 * scratch * p.inv_c;
  r = (scratch - scratch.maxCoeff()).exp();
  r /= r.sum();
}

// Components whose responsibility is below this are skipped in the jet sums. Their share
// is at most K · 1e-24 · (a polynomial of the log-ratio of at most degree 2 in w²), far below
// double rounding of the retained terms.
constexpr double kNegligibleResponsibility = 1e-24;

// Per-point accumulators of the cumulant formulas above (flat, row-major index tuples).
struct CumulantSums {
  int d = 0;
  Eigen::VectorXd P1, P2, P3;        // r w, r w⊗w, r w⊗w⊗w of one component
  Eigen::VectorXd A, B, E2, E3, E4;  // Σ r w/c, Σ r w⊗w/c, Σ r w⊗², Σ r w⊗³, Σ r w⊗⁴
  double S1 = 0, S2 = 0;             // Σ r/c, Σ r/c²

  explicit CumulantSums(int dim)
      : d(dim), P1(d), P2(d * d), P3(d * d * d), A(d), B(d * d), E2(d * d), E3(d * d * d),
        E4(d * d * d * d) {}

  void clear(int order) {
    S1 = S2 = 0;
    E2.setZero();
    A.setZero();
    E3.setZero();
    if (order >= 3) {
      B.setZero();
      E4.setZero();
    }
  }

  void add(double r, double inv_c, const double* w, int order) {
    S1 += r * inv_c;
    for (int a = 0; a < d; ++a) P1[a] = r * w[a];
    for (int ab = 0; ab < d * d; ++ab) P2[ab] = P1[ab / d] * w[ab % d];
    E2 += P2;
    if (order < 2) return;
    A += inv_c * P1;
    for (int abc = 0; abc < d * d * d; ++abc) P3[abc] = P2[abc / d] * w[abc % d];
    E3 += P3;
    if (order < 3) return;
    S2 += r * inv_c * inv_c;
    B += inv_c * P2;
    for (int abc = 0, i = 0; abc < d * d * d; ++abc)
      for (int e = 0; e < d; ++e, ++i) E4[i] += P3[abc] * w[e];
  }
};

// Writes J (= M2), H (= M3) and T (= M4 − M2⊗M2 pairings) of one point from the sums.
void assemble_jet(const CumulantSums& S, int order, double* J, double* H, double* T) {
  const int d = S.d;
  auto delta = [](int i, int j) { return i == j ? 1.0 : 0.0; };
  for (int a = 0; a < d; ++a)
    for (int b = 0; b < d; ++b) J[a * d + b] = S.E2[a * d + b] - delta(a, b) * S.S1;
  if (order < 2) return;
  for (int a = 0; a < d; ++a)
    for (int b = 0; b < d; ++b)
      for (int c = 0; c < d; ++c)
        H[(a * d + b) * d + c] = S.E3[(a * d + b) * d + c] -
                                 (delta(a, b) * S.A[c] + delta(a, c) * S.A[b] + delta(b, c) * S.A[a]);
  if (order < 3) return;
  const auto Bm = [&](int i, int j) { return S.B[i * d + j]; };
  const auto M2 = [&](int i, int j) { return J[i * d + j]; };
  for (int a = 0; a < d; ++a)
    for (int b = 0; b < d; ++b)
      for (int c = 0; c < d; ++c)
        for (int e = 0; e < d; ++e) {
          const int i = ((a * d + b) * d + c) * d + e;
          const double quadratic = delta(a, b) * Bm(c, e) + delta(a, c) * Bm(b, e) +
                                   delta(a, e) * Bm(b, c) + delta(b, c) * Bm(a, e) +
                                   delta(b, e) * Bm(a, c) + delta(c, e) * Bm(a, b);
          const double constant =
              (delta(a, b) * delta(c, e) + delta(a, c) * delta(b, e) + delta(a, e) * delta(b, c)) * S.S2;
          const double m4 = S.E4[i] - quadratic + constant;
          T[i] = m4 - (M2(a, b) * M2(c, e) + M2(a, c) * M2(b, e) + M2(a, e) * M2(b, c));
        }
}

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
  p.bias.resize(K);
  for (Eigen::Index k = 0, i = 0; k < data.weights.size(); ++k) {
    if (!(data.weights(k) > 0)) continue;
    const double c = alpha * alpha * data.variances(k) + sigma2;
    if (!(c > 0))
      throw Error("mixture score '" + spec + "': a component has zero variance at t = " +
                  std::to_string(t) + " (point masses need t > 0)");
    p.mean.row(i) = alpha * data.means.col(k).transpose().array();
    p.inv_c(i) = 1.0 / c;
    p.bias(i) = std::log(data.weights(k) / total) - 0.5 * d * std::log(c);
    ++i;
  }
  return p;
}
}  // namespace

void MixtureScore::score(const Points& x, double t, Points& out) const {
  check_batch(x, dim(), "mixture score");
  const DiffusedMixture p = diffuse(data_, schedule_, t, spec_);
  const Eigen::Index K = p.inv_c.size();
  Eigen::ArrayXd scratch(K), r(K);
  out.resize(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < x.cols(); ++i) {
    const double* xi = x.col(i).data();
    responsibilities(p, xi, scratch, r);
    r *= p.inv_c;  // s_j = Σ r_k (α μ_kj − x_j)/c_k, summed directly (no x Σ r/c cancellation)
    for (Eigen::Index j = 0; j < x.rows(); ++j) out(j, i) = ((p.mean.col(j) - xi[j]) * r).sum();
  }
}

void MixtureScore::jet(const Points& x, double t, int order, ScoreJet& out) const {
  check_batch(x, dim(), "mixture score");
  check_order(order, "mixture score");
  const int d = dim();
  resize_jet(out, d, x.cols(), order);
  const DiffusedMixture p = diffuse(data_, schedule_, t, spec_);
  const Eigen::Index K = p.inv_c.size();
  Eigen::ArrayXd scratch(K), r(K);
  CumulantSums sums(d);
  Eigen::VectorXd w(d);
  for (Eigen::Index i = 0; i < x.cols(); ++i) {
    const double* xi = x.col(i).data();
    responsibilities(p, xi, scratch, r);
    for (int j = 0; j < d; ++j) out.s(j, i) = ((p.mean.col(j) - xi[j]) * r * p.inv_c).sum();
    if (order == 0) continue;
    sums.clear(order);
    for (Eigen::Index k = 0; k < K; ++k) {
      if (r(k) < kNegligibleResponsibility) continue;
      for (int j = 0; j < d; ++j) w[j] = (p.mean(k, j) - xi[j]) * p.inv_c(k) - out.s(j, i);
      sums.add(r(k), p.inv_c(k), w.data(), order);
    }
    assemble_jet(sums, order, out.J.col(i).data(), order >= 2 ? out.H.col(i).data() : nullptr,
                 order >= 3 ? out.T.col(i).data() : nullptr);
  }
}

}  // namespace diffpath
