#pragma once
// The η-model's formulas, in one place (DESIGN §1.3, §1.4, §1.5, §1.9). Every sampler, action,
// likelihood and Fokker–Planck solver uses these, so a sign or a factor lives once.
//
//   sampler drift      F_{θ,η}(x,t) = f x − (1+η)/2 · g² s_θ(x,t)        (reverse time, §1.3)
//   PF velocity        v(x,t)       = F_{θ,0} = f x − g²/2 · s_θ          (§1.5)
//   divergence         ∇·F_{θ,η}    = d f − (1+η)/2 · g² ∇·s_θ
//   IS proposal drift  b(x,t)       = F_{θ,η} + η g² s_θ = f x − (1−η)/2 · g² s_θ   (forward, §1.9)
//   action increment   ‖x_{k+1} − x_k + F(x_k, t_k) h‖² / (2 g(t_k)² h)  (Euler–Maruyama
//                      on the reverse grid, h = t_k − t_{k+1} > 0; action.hpp)
//
// The functions return Eigen expressions; evaluate them into a matrix before x or s change.
#include "diffpath/common.hpp"
#include "diffpath/schedule.hpp"

namespace diffpath::eta_model {

/// The coefficient (1+η)/2 · g² of s in F_{θ,η}.
inline double score_weight(const Schedule& sch, double eta, double t) {
  return 0.5 * (1.0 + eta) * sch.g2(t);
}

/// F_{θ,η} = f x − (1+η)/2 g² s for x, s (d × n).
template <class X, class S>
auto drift(const Schedule& sch, double eta, double t, const X& x, const S& s) {
  return sch.f(t) * x - score_weight(sch, eta, t) * s;
}

/// v = f x − g²/2 s, the probability-flow velocity.
template <class X, class S>
auto pf_velocity(const Schedule& sch, double t, const X& x, const S& s) {
  return drift(sch, 0.0, t, x, s);
}

/// ∇·F_{θ,η} from ∇·s (d = dimension).
inline double drift_divergence(const Schedule& sch, double eta, double t, int d, double div_s) {
  return d * sch.f(t) - score_weight(sch, eta, t) * div_s;
}

/// The importance-sampling proposal b = f x − (1−η)/2 g² s of §1.9, run forwards in t. At
/// η = 1 it is the forward noising SDE, at η = 0 the PF velocity.
template <class X, class S>
auto proposal_drift(const Schedule& sch, double eta, double t, const X& x, const S& s) {
  return drift(sch, -eta, t, x, s);
}

/// Per-column Euler–Maruyama action increment ‖x_next − x + F h‖² / (2 g² h) of one reverse
/// step from t to t − h, with F = F_{θ,η}(x, t) already evaluated.
template <class X, class Xn, class F>
Vec action_increment(const Schedule& sch, double t, double h, const X& x, const Xn& x_next,
                     const F& drift_at_x) {
  return (x_next - x + h * drift_at_x).colwise().squaredNorm().transpose() /
         (2.0 * sch.g2(t) * h);
}

}  // namespace diffpath::eta_model
