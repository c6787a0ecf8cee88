#pragma once
// The η-model's density over the plane (DESIGN §1.9, §1.10): its Fokker–Planck equation
//   ∂_t q + ∇·(F_{θ,η} q) + (η g²/2) Δq = 0,   F_{θ,η} = f x − (1+η)/2 · g² s_θ(x, t),
// solved backwards in t from q_Tmax = N(0, I) down to Tmin on a square grid, for a list of η
// in one call. In reverse time τ = Tmax − t it is a forward, well-posed transport–diffusion
// equation: ∂_τ q + ∇·(u q) = D Δq with velocity u = −F_{θ,η} and D = η g²/2 ≥ 0. It shares no
// code with the path-based likelihood (likelihood.hpp) or the NLL(η) estimator, so it checks
// them: log q^η at Tmin is NLL(η) per point, and d/dη at 0 is the WKB coefficient c(x₀).
//
// Discretisation (third order in space, second in time where the solution is smooth; the
// derivation and the reasons are in fokker_planck.cpp):
//   - cells: N × N on [−L, L]², cell size h = 2L/N, q stored as cell averages;
//   - advection: finite volume, the κ = 1/3 upwind-biased face reconstruction clamped to
//     [0, 2 q_upwind] (active only where q varies by O(1) per cell: far tails), face velocities
//     from the cell-centre velocities, SSP-RK(8,2) in τ, zero flux through the boundary.
//     Step dτ ≤ 7 · cfl · h / (2 · max outflow speed), which keeps q ≥ 0;
//   - diffusion: the exact heat semigroup exp(θ Δ_h) of the zero-flux fourth-order
//     finite-volume Laplacian (θ = ∫ D dτ in closed form), applied in the cosine eigenbasis:
//     mass-conserving, stable for any g² (the cosine schedule has g² ≈ 2000 at Tmax); where
//     its small negative lobes bite (q falling by > 16× per cell) the positive 5-point
//     kernel's value is used, so q ≥ 0;
//     Strang-split from the advection at every advection substep (for η > 0 the substeps are
//     uniform in ∫ g² dt);
//   - the score s_θ is evaluated on the cell centres at adaptively chosen nodes t_k only and
//     interpolated in t between them, quadratically through the last three nodes (f and g²
//     are exact at every substep). The node step is controlled so the estimated displacement
//     error of that interpolation over one interval stays below node_tol cells wherever there
//     is mass. One score evaluation per node serves every η of the call: that is most of the
//     cost for a network.
// Output: log q at cell centres from the cell averages, corrected by −(h²/24) Δ_h q / q (the
// second-order difference between a cell average and the centre value), so cell-centre values
// are second-order accurate too; bilinear interpolation in between.
//
// Resolution: a feature narrower than a few cells is not resolved, whatever the scheme. At
// every output time the model's local width w = 1/√λ_max(−∇s_θ) (the standard deviation a mode
// of log q with that score curvature has; ∇s from central differences of the score on the
// grid) is compared with min_width_cells · h; the mass in cells below it is reported, and a
// time with more than 1 % of the mass there is flagged unresolved (25 Gaussians at Tmin:
// w ≈ 0.036, far below one cell on [−6, 6] at 256²). w is a standard deviation, so the default
// of 2 cells is a full width at half maximum of 4.7 cells. What it buys, measured: for a
// Gaussian of σ = 5 cells the sup error of log q within 1σ is 3e-3 and at 3σ 1.3e-2 (96² on
// [−5, 5]²); for the shipped swiss-roll network at 2.5 cells across the roll (192² on
// [−3, 3]²) NLL(0) is within 0.02 of the PF-ODE value, but the η-slope of log q is not yet
// converged (see tests/test_fokker_planck.cpp) — the WKB coefficient involves ∇∇log q.
//
// Accuracy, measured on the wrong-score Gaussian (tests, bench): sup error of log q in the 3σ
// disc of the data ≤ 7e-4 at 256² for η ∈ [0, 1], order ≈ 3 from 128² (bench_fokker_planck);
// mass 1 to 1e-13; q ≥ 0.
// Cost: substeps ∝ grid size × max |∇u| over the domain (the CFL bound holds everywhere,
// also in the far field where a network's score is steep and q ≈ 0), score nodes ∝
// node_tol^(−1/4) (a trained network's score is rough in t: ~120 nodes at 2e-3, ~180 at 2e-4).
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "diffpath/common.hpp"
#include "diffpath/schedule.hpp"
#include "diffpath/score_model.hpp"

namespace diffpath {

struct FokkerPlanckOptions {
  int grid = 256;                 // N cells per side
  double extent = 6.0;            // L: the domain is [−L, L]²
  std::vector<double> etas = {0.0};   // each in [0, 1]
  std::vector<double> times;      // output times in [Tmin, Tmax]; empty = {Tmin}
  double cfl = 0.9;               // fraction of the positivity bound on the advection step
  double node_tol = 2e-4;         // score-interpolation displacement error per node, in cells
  double min_width_cells = 2.0;   // resolution threshold on the model's width w, in cells
  int max_nodes = 5000;           // score evaluations before giving up (Error)
  int threads = 0;                // 0 = default_threads()
};

/// log q_t^η at the cell centres x_i = −L + (i + ½) h: (i, j) ↔ (x_i, y_j). −inf where q = 0.
struct DensityGrid {
  double eta = 0, t = 0;
  Eigen::MatrixXd log_q;          // N × N
  double mass = NAN;              // Σ q h² at t (1 up to round-off)
  // Resolution at t (see the header comment).
  double unresolved_mass = NAN;   // mass in cells where the model's width w < min_width_cells·h
  double width_q05 = NAN;         // mass-weighted 5 % quantile of w (x units)
  bool resolved = true;
};

/// Per η: how the solve went.
struct EtaReport {
  double eta = 0;
  double max_mass_error = 0;      // max over every step of |Σ q h² − 1|
  double min_q = 0;               // smallest cell value seen before clipping round-off
  double clipped_mass = 0;        // total |negative round-off| set to 0
  long substeps = 0;              // advection steps
  long diffusion_steps = 0;       // applications of the heat semigroup
  long heat_fallbacks = 0;        // of which used the 5-point kernel in steep cells (q ≥ 0)
  double seconds = 0;             // time in this η's PDE work (not the score)
};

struct FokkerPlanckResult {
  int n = 0;
  double extent = 0, h = 0;
  std::vector<double> etas, times;          // times in the order they were requested
  std::vector<std::vector<DensityGrid>> grids;   // [eta index][time index]
  std::vector<EtaReport> reports;           // per η
  int score_evaluations = 0;                // accepted + rejected nodes
  int rejected_nodes = 0;
  std::vector<double> node_times;           // the accepted score nodes, Tmax first
  double prior_mass_outside = 0;            // N(0, I) mass outside the domain (renormalised)
  double score_seconds = 0, seconds = 0;
  bool cancelled = false;                   // stopped early: grids may be incomplete

  double cell_center(int i) const { return -extent + (i + 0.5) * h; }
  /// Bilinear interpolation of log q on the cell-centre lattice (constant extrapolation of
  /// the edge values in the outer half cell); NaN outside [−L, L]².
  double log_density(int eta_index, int time_index, double x, double y) const;
  /// All grids resolved at time_index?
  bool resolved(int time_index) const;
};

/// Solves the PDE for every η of the options in one sweep from Tmax to Tmin. The model must
/// have dimension 2. `cancel` is polled every substep; `progress(fraction ∈ [0, 1])` is called
/// only on the calling thread. Results do not depend on `threads`.
/// Throws Error for a model of dimension ≠ 2, grid < 8, extent ≤ 0, an η outside [0, 1], a
/// time outside [Tmin, Tmax], bad tolerances, a non-finite score on the grid, or more than
/// max_nodes score evaluations.
FokkerPlanckResult solve_fokker_planck(const ScoreModel& model, const Schedule& schedule,
                                       const FokkerPlanckOptions& options,
                                       const std::atomic<bool>* cancel = nullptr,
                                       const std::function<void(double)>& progress = {});

}  // namespace diffpath
