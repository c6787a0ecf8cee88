#pragma once
// Adaptive Dormand–Prince 5(4) integration of y' = F(t, y) for a flat state vector, forwards
// or backwards in t. Batched problems (many particles) are solved as one system, as
// scipy.solve_ivp would: one step size, error norm over all components.
#include <atomic>
#include <cmath>
#include <functional>
#include <string>

#include "diffpath/common.hpp"

namespace diffpath {

struct OdeOptions {
  double rtol = 1e-5;
  double atol = 1e-5;
  double first_step = 0.0;   // 0: chosen automatically (Hairer's starting-step heuristic)
  int max_steps = 100000;
  /// Divergence guard: an accepted state with any |y_i| > max_abs fails the integration
  /// ("diverging") instead of following a run-away solution to 1e300 at great cost.
  double max_abs = INFINITY;
};

struct OdeStats {
  int steps = 0;             // accepted steps
  int rejected = 0;
  int evals = 0;             // right-hand-side evaluations
  bool ok = true;            // false: non-finite state, step size underflow or max_steps
  std::string error;         // why not ok
};

/// dydt = F(t, y); dydt is pre-sized to y's size.
using OdeRhs = std::function<void(double t, const Vec& y, Vec& dydt)>;

/// Integrates y from t0 to t1 in place. Error per component is scaled by
/// atol + rtol·max(|y_old|, |y_new|) and combined as an RMS norm (Hairer–Wanner).
/// `cancel` (if given) is polled between steps; on cancel ok = false, error = "cancelled".
OdeStats integrate_dopri5(const OdeRhs& F, double t0, double t1, Vec& y, const OdeOptions& opt,
                          const std::atomic<bool>* cancel = nullptr);

}  // namespace diffpath
