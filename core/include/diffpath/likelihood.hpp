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
#include "diffpath/stats.hpp"

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

/// Median, 1 % trimmed mean and bootstrap interval of −c over the points used (ok): next to
/// wkb_mean, whose heavy tail on trained networks can put it far from the bulk.
RobustSummary wkb_robust_summary(const LikelihoodSummary& s);

/// The first-order curve NLL(η) ≈ NLL(0) + η E[−c].
inline double nll_first_order(const LikelihoodSummary& s, double eta) {
  return s.nll_mean + eta * s.wkb_mean;
}


// ---------------------------------------------------------------------------------------------
// NLL(η) for every η: the likelihood of the stochastic sampler itself (DESIGN §1.9).
//
// q_t^η solves ∂_t q + ∇·(F_{θ,η} q) + (η g²/2) Δq = 0 backwards from q_Tmax = N(0, I). By
// Feynman–Kac with an importance-sampling proposal (forwards in t from X_Tmin = x₀)
//   dX = b dt + √η g dW,   b = f x − (1 − η)/2 · g² s_θ   (eta_model::proposal_drift),
// and Girsanov weights, q₀^η(x₀) = E[w] with (Stratonovich form, see likelihood_eta.cpp)
//   log w = log N(X_Tmax; 0, I) + ∫ ∇·v dt − √η ∫ g s_θ ∘ dW − (η/2) ∫ g² ‖s_θ‖² dt,
// v the probability-flow velocity. η = 0: one deterministic path, exactly §1.5's NLL.
// log q₀^η(x₀) ≈ log (1/M) Σ_m w_m (log-mean-exp over M paths per point).
//
// Discretization (likelihood_eta.cpp): stochastic Heun on a grid uniform in the log
// signal-to-noise ratio λ = log(α²/σ²), the weight's products in a telescoping form: second
// order in the step for η = 0 and for scores that are consistent (s = ∇log q^η), first order
// in proportion to the score's inconsistency otherwise. `err` measures it; raise `steps` when
// it matters. Common random numbers: path m of point p draws its Brownian increments
// from Rng(stream_seed(seed, p, m)) on the half-step grid, whatever η, the thread count or
// the batching; the `steps` run sums pairs of those increments. So the same Brownian path
// drives every η (the curve is smooth in η) and the half-step rerun (the time-step error).
// ---------------------------------------------------------------------------------------------

struct EtaLikelihoodOptions {
  std::vector<double> etas;    // each in [0, 1]; evaluated together, in this order
  // Defaults: the estimator's own error (mc_se + bias + err) ≤ 0.01 nats on the shipped
  // networks at every η ∈ [0, 1] (bench_likelihood_eta: 0.008 at η = 1 for 1000 swiss-roll
  // points). The time-step error, not the path count, dominates at η = 1 (32 paths at 128
  // steps: 0.019), so steps are cheaper spent than paths.
  int paths = 8;               // M per point and η > 0 (η = 0 needs one: its path is fixed)
  int steps = 256;             // Heun steps from Tmin to Tmax on the log-SNR grid
  /// Points rerun at half the step for the time-step error: the first `error_points`
  /// evaluated points (0 = no rerun, −1 = all).
  int error_points = 64;
  uint64_t seed = 0;           // seed of the Brownian increments
  int threads = 0;             // 0 = default_threads()
  int batch_columns = 256;     // paths (points × M) per block handed to the model
  /// A path whose state leaves |x| ≤ divergence_bound (or turns non-finite) makes its point
  /// excluded (as in evaluate_likelihood).
  double divergence_bound = 1e8;
};

/// One point at one η. log_q is the log-mean-exp estimate; mc_se = sd(w) / (√M mean w) and
/// bias = mc_se² / 2 (its Jensen bias, log_q is low by about that) are delta-method values
/// from the point's own weights, ess = (Σw)² / Σw². log_q_half is the half-step rerun (NaN
/// where it was not run).
struct EtaPointValue {
  double log_q = NAN;
  double mc_se = NAN;
  double ess = NAN;
  double bias = NAN;
  double log_q_half = NAN;
};

struct EtaPoint {
  std::vector<EtaPointValue> at;   // one per η of the options
  bool ok = false;                 // every η finished with finite values
  std::string error;
};

/// The curve at one η over the points that are ok at every η. NLL units throughout.
struct EtaCurvePoint {
  double eta = NAN;
  double mean = NAN;     // E[−log q₀^η(x₀)] over the points
  double se = NAN;       // standard error over the points (their spread)
  /// The estimator's own Monte-Carlo error on `mean`, from two independent halves of the
  /// paths: √(Σ_p (L_p^A − L_p^B)²) / (2n) (it does not trust the per-point delta method,
  /// which misses heavy tails).
  double mc_se = NAN;
  /// Estimated E[mean] − NLL(η) from the Jensen bias of log-mean-exp: mean over points of
  /// (L_p^{M/2} − L_p^{M}), halves averaged (bias doubles when M halves). ≥ 0 up to noise.
  double bias = NAN;
  double err = NAN;      // |change of the mean| at half the step, over the rerun points
  int err_points = 0;    // points in `err`
  double ess_median = NAN;
  /// −(log q^η − log q⁰) per point: the change of each point's NLL, summarised robustly
  /// (the paired difference has far less spread than either curve).
  RobustSummary delta;
};

struct EtaLikelihoodSummary {
  std::vector<double> etas;
  std::vector<EtaPoint> points;
  std::vector<EtaCurvePoint> curve;   // one per η
  int n = 0;                          // points used (ok at every η)
  int excluded = 0;
  double seconds = 0;
  bool cancelled = false;
};

/// log q₀^η for every column of x0 (d × n) and every η of options.etas. Throws Error on bad
/// options (η outside [0, 1], paths < 2, steps < 1, ...) or a dimension mismatch. `progress`
/// (fraction done) is called serialised from worker threads; `cancel` is polled every step.
EtaLikelihoodSummary evaluate_likelihood_eta(const ScoreModel& model, const Schedule& schedule,
                                             const Points& x0, const EtaLikelihoodOptions& options,
                                             const std::atomic<bool>* cancel = nullptr,
                                             const std::function<void(double)>& progress = {});

/// How far the WKB line NLL(0) + η·E[−c] — the curve's tangent at 0 (§1.6) — describes the
/// curve: the largest η of `curve` (ascending) such that at it and at every smaller η > 0,
/// |Δ(η) − η·wkb_mean| ≤ 2·se_Δ + mc_se + |bias| + err + 0.01 nats, with
/// Δ(η) = curve.delta.mean.mean (the per-point NLL change from η = 0, common random numbers) and
/// its standard error. 0 when the line misses already at the first η > 0; NaN when the curve
/// has no η > 0 or wkb_mean is not finite. The line is the measured one (E[−c]'s point
/// value): on heavy-tailed c(x₀) its own standard error is so wide that "not rejected" would
/// say nothing, so it is not part of the tolerance.
double first_order_holds_up_to(const std::vector<EtaCurvePoint>& curve, double wkb_mean);

/// Times Tmin = t_0 < … < t_K = Tmax equally spaced in λ(t) = log(α²/σ²).
std::vector<double> log_snr_grid(const Schedule& schedule, int K);

// ---------------------------------------------------------------------------------------------
// The paper's evaluation rule (DESIGN §2), to compare protocols. Its reference code evaluates
// 100 batches of 10 points; for c it runs inner PF-ODE solves (rtol = atol = 1e-5) from states
// x_t of the outer path, offset by ±dx along each axis, to Tmax — and drops a whole batch when
// any solve fails or any coordinate of any path leaves (−5, 5). That removes the points whose
// paths run far: the heavy tail of c(x₀). paper_protocol_filter applies the rule itself: per
// batch, the outer PF path from x₀ and, from `start_times` states x(t_j) on it (t_j on the
// log-SNR grid, t_0 = Tmin), the 2d inner paths x(t_j) ± dx e_k to Tmax, each checked at every
// accepted step. (The reference starts inner solves at every stage of its outer RK45; a path
// that leaves the box from one start time leaves it from its neighbours, so a grid suffices.)
// ---------------------------------------------------------------------------------------------

struct PaperProtocolOptions {
  int batch = 10;           // points per batch: kept or dropped whole, consecutive columns
  double box = 5;           // every coordinate of every path stays in (−box, box)
  double dx = 0.01;         // the inner paths' finite-difference offset
  int start_times = 16;     // outer-path states the inner paths start from
  double rtol = 1e-5, atol = 1e-5;
  int threads = 0;          // 0 = default_threads()
};

struct PaperProtocolFilter {
  std::vector<char> kept;            // per point of x0: its batch was kept
  int batches = 0;
  std::vector<std::string> dropped;  // one line per dropped batch: which points and why
  int kept_points() const;
  bool cancelled = false;
};

/// Which points of x0 (d × n) the paper's rule keeps. Batches are independent (parallel,
/// results independent of the thread count). Throws Error on bad options or a dimension
/// mismatch. `progress` (fraction of batches done) is called serialised.
PaperProtocolFilter paper_protocol_filter(const ScoreModel& model, const Schedule& schedule,
                                          const Points& x0, const PaperProtocolOptions& options = {},
                                          const std::atomic<bool>* cancel = nullptr,
                                          const std::function<void(double)>& progress = {});

/// The columns of x0 whose `kept` flag is set, in order.
Points kept_columns(const Points& x0, const std::vector<char>& kept);

}  // namespace diffpath
