#pragma once
// Likelihood of the deterministic sampler and its first-order WKB correction (DESIGN §1.5,
// §1.6), for any score model with exact x-derivatives.
//
//   v(x,t) = f x − g²/2 s(x,t)                 probability-flow velocity (η = 0)
//   log q₀(x₀) = log N(x(Tmax); 0, I) + ∫_{Tmin}^{Tmax} ∇·v dt,   x(Tmin) = x₀
//   log q₀^η(x₀) = log q₀(x₀) + η c(x₀) + O(η²),   NLL(η) ≈ NLL(0) + η E[−c]
//
// Per batch of points (one Dormand–Prince system, one step size, like scipy.solve_ivp on the
// flattened batch) three passes:
//   1. forward  Tmin → Tmax: x and ∫∇·v (exact divergence from the score's Jacobian) → NLL;
//   2. backward Tmax → Tmin: x (reversed along the same ODE), G = ∇log q_t⁰, H = ∇∇log q_t⁰
//      and the cancelled-form integral c = −∫ g²/2 [∇·s + G·s − ‖G‖² − tr H] dt → c;
//   3. (optional, for checks) forward again with x, G, H, δx and ∫∇·δv → c in the paper's
//      δx form.
// Batches run in parallel; results never depend on the thread count.
#include <atomic>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "diffpath/common.hpp"
#include "diffpath/schedule.hpp"
#include "diffpath/score_model.hpp"

namespace diffpath {

struct LikelihoodOptions {
  double rtol = 1e-5, atol = 1e-5;  // Dormand–Prince tolerances of every pass
  int batch = 64;                   // points per ODE system
  int threads = 0;                  // 0 = default_threads()
  bool wkb = true;                  // compute c(x₀) (needs third derivatives of the score)
  bool error_estimate = true;       // rerun at rtol/10, atol/10; errors = |difference|
  bool delta_x_form = false;        // also compute c in the paper's δx form (third pass)
  /// Terminal values G = s(x_T, Tmax), H = ∇s(x_T, Tmax) instead of the N(0, I) prior's
  /// −x_T, −I: the WKB coefficient of the prior the model itself implies. With an exact score
  /// c ≡ 0 then holds identically along every path (a test hook; the NLL is unaffected).
  bool model_prior = false;
  int max_steps = 100000;           // per ODE pass
  /// A point whose ODE state (x, G, H, ...) leaves |·| ≤ divergence_bound is excluded as
  /// diverging. Data and the N(0, I) prior live at |x| ~ 1; a PF path at |x| = 1e8 has an NLL of
  /// ~1e16 — the model extrapolates wildly there, and following it further only costs time.
  double divergence_bound = 1e8;
};

/// One point's results. Values are at the requested tolerances; *_err are the differences to
/// the tenfold tighter rerun (NaN if error_estimate is off). ok = false: the point's ODE
/// failed (non-finite state, step-size underflow, too many steps) in some pass or its input
/// was non-finite; it is excluded from every mean and `error` says why.
struct PointLikelihood {
  double nll = NAN;         // −log q₀(x₀)
  double c = NAN;           // first-order coefficient: log q₀^η = log q₀ + η c + O(η²)
  double nll_err = NAN;
  double c_err = NAN;
  double c_delta_x = NAN;   // c in the δx form (NaN unless delta_x_form)
  double recon_err = NAN;   // ‖x₀ − x₀ reconstructed by the backward pass‖ (NaN without wkb)
  bool ok = false;
  std::string error;
};

struct LikelihoodSummary {
  std::vector<PointLikelihood> points;
  int n = 0;                // points used in the means (ok)
  int excluded = 0;         // points that failed (points.size() − n)
  double nll_mean = NAN, nll_se = NAN;   // NLL(0) mean ± standard error
  double wkb_mean = NAN, wkb_se = NAN;   // E[−c] ± standard error
  double nll_err = NAN, wkb_err = NAN;   // |change of the mean| under tenfold tighter tols
  double seconds = 0;
  bool cancelled = false;   // `cancel` was raised: the summary is incomplete
};

/// NLL of the PF-ODE and (optionally) the WKB coefficient for every column of x0 (d × n).
/// Throws Error on bad options, a dimension mismatch, or a model without third derivatives
/// when wkb is on. `progress` (fraction done, 0..1) is called serialised, from worker threads.
LikelihoodSummary evaluate_likelihood(const ScoreModel& model, const Schedule& schedule,
                                      const Points& x0, const LikelihoodOptions& options = {},
                                      const std::atomic<bool>* cancel = nullptr,
                                      const std::function<void(double)>& progress = {});

/// The first-order curve NLL(η) ≈ NLL(0) + η E[−c].
inline double nll_first_order(const LikelihoodSummary& s, double eta) {
  return s.nll_mean + eta * s.wkb_mean;
}

}  // namespace diffpath
