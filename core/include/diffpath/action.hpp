#pragma once
// Onsager–Machlup actions (DESIGN §1.4). The η-model's path probability is
//   Q_η[x] ∝ exp(−Ã_{θ,η}[x] / η) q_T(x_T),   Ã_{θ,η}[x] = ∫ ‖ẋ − F_{θ,η}(x, t)‖² / (2 g²) dt,
// discretized exactly as the Euler–Maruyama sampler steps (sampler.hpp): on a path recorded
// at reverse-ordered times t_0 > t_1 > … (h_k = t_k − t_{k+1} > 0),
//   Ã = Σ_k ‖x_{k+1} − x_k + F_{θ,η}(x_k, t_k) h_k‖² / (2 g(t_k)² h_k),
// with the drift at the later-time end x_k of each step (reverse-time Itô). Then the Gaussian
// transition density of one EM step is exp(−(step term)/η)/norm, and on the sampler's own EM
// paths the action is η Σ_k ‖z_k‖²/2; the PF-ODE path (η = 0) has zero action.
#include <atomic>
#include <vector>

#include "diffpath/common.hpp"
#include "diffpath/schedule.hpp"
#include "diffpath/score_model.hpp"

namespace diffpath {

/// Ã_{θ,η} of each of n recorded paths: frames[j] (d × n) at times[j], times strictly
/// decreasing (as the sampler records them). With frames recorded every `stride` steps this is
/// the action of the coarser discretization. Throws Error on mismatched shapes, a model of
/// another dimension, fewer than 2 frames, non-decreasing times or η outside [0, 1].
Vec path_actions(const ScoreModel& model, const Schedule& schedule, double eta,
                 const std::vector<double>& times, const std::vector<Points>& frames);

/// The path-integral KL bound computed two ways (DESIGN §1.4):
///   by_actions = E_P[Ã_θ − Ã]  over data paths (η = 1 actions of `model` and of `exact`),
///   by_loss    = ∫_{Tmin}^{Tmax} g²/2 · E_{p_t}‖s_θ − ∇log p_t‖² dt  (trapezoid rule on the
///                same grid, x_t = α x₀ + σ z),
/// each a mean over one path / one x₀ per data point with its standard error. In the limit of
/// many steps both are the same number.
struct ActionKl {
  double by_actions = 0.0, by_actions_se = 0.0;
  double by_loss = 0.0, by_loss_se = 0.0;
  int paths = 0, steps = 0;
  bool cancelled = false;  // `cancel` was raised: the numbers are incomplete, do not use them
};

/// Data paths: x(Tmin) = α x₀ + σ z for each column x₀ of `data`, then exact forward
/// transitions of the forward SDE up to Tmax on the sampler's grid of `steps` steps, so the
/// discrete path has exactly the law P of the data process. `exact` must be ∇log p_t of the
/// distribution `data` is drawn from (e.g. a MixtureScore); deterministic for `seed`,
/// independent of `threads`. Throws Error on dimension mismatch, < 2 data points or steps < 1.
ActionKl action_kl_bound(const ScoreModel& model, const ScoreModel& exact, const Schedule& schedule,
                         const Points& data, int steps, uint64_t seed, int threads = 0,
                         const std::atomic<bool>* cancel = nullptr);

/// The DSM training loss (DESIGN §1.2) of any score model, by Monte Carlo over exactly the
/// distribution DsmTrainer's batches come from: t on the 1000-point training grid, x₀ a column
/// of `data` drawn uniformly, z ~ N(0, I):
///   L = E_t E_{x₀,z} [ g(t)² ‖s(α x₀ + σ z, t) + z/σ‖² ].
/// Stratified in t: `per_time` draws at every grid time (≥ 2 for a standard error; with 1 it
/// is NaN, stats.hpp's n < 2 rule), and the standard error is the stratified one. For the exact score of the data's
/// distribution this is the irreducible loss L*, and for any model (the cross term vanishes
/// because E[−z/σ | x_t] = ∇log p_t)
///   L(θ) = L* + E_t[ g² E‖s_θ − ∇log p_t‖² ] ≈ L* + 2/(Tmax − Tmin) · by_loss of action_kl_bound,
/// which puts the path-integral KL term on the axis of the training loss. Deterministic for
/// `seed`, independent of `threads`. Throws Error on dimension mismatch, empty or non-finite
/// data, or per_time < 1.
struct LossEstimate {
  double mean = 0.0, se = 0.0;
  int samples = 0;
  bool cancelled = false;  // `cancel` was raised: the numbers are incomplete, do not use them
};
LossEstimate dsm_loss_estimate(const ScoreModel& model, const Schedule& schedule, const Points& data,
                               int per_time, uint64_t seed, int threads = 0,
                               const std::atomic<bool>* cancel = nullptr);

/// A KL term in units of the training loss: the identity above, L(θ) − L* = 2/(Tmax − Tmin) · KL
/// (E_t is uniform over ΔT, and the KL integrand carries g²/2 where the loss has g²). Linear,
/// so it converts a standard error the same way: the markers of the loss chart are
/// L* + kl_in_loss_units(s, kl) ± hypot(L*'s se, kl_in_loss_units(s, kl_se)).
inline double kl_in_loss_units(const Schedule& schedule, double kl) {
  return 2.0 / (schedule.t_max - schedule.t_min) * kl;
}

}  // namespace diffpath
