#pragma once
// The η-interpolated reverse-time sampler (DESIGN §1.3):
//   dx = F_{θ,η}(x, t) dt + √η g(t) dw̄,   F_{θ,η} = f x − (1+η)/2 · g² s_θ(x, t),
// integrated from Tmax down to Tmin, x(Tmax) ~ N(0, I). η = 1 is the reverse SDE, η = 0 the
// probability-flow ODE.
//
// Common random numbers: particle i draws its start point and then, step by step, its
// Brownian increments from its own stream Rng(stream_seed(seed, i)), always d normals per
// step whatever η, the solver, the thread count or the chunking. Dragging η therefore morphs
// each trajectory continuously instead of re-rolling it.
#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "diffpath/common.hpp"
#include "diffpath/schedule.hpp"
#include "diffpath/score_model.hpp"

namespace diffpath {

enum class Solver {
  EulerMaruyama,  // any η ∈ [0, 1]
  Heun,           // explicit trapezoid (2nd order), deterministic: η = 0 only
};

struct SamplerOptions {
  double eta = 1.0;      // ∈ [0, 1]
  int steps = 1000;      // N: uniform grid t_k = Tmax − k (Tmax − Tmin) / N, k = 0..N
  int n = 3000;          // particles
  uint64_t seed = 0;
  Solver solver = Solver::EulerMaruyama;
  int stride = 0;        // record a frame every `stride` steps (and the last); 0 = only final
  int threads = 0;       // 0 = default_threads()
  bool record_action = true;
};

struct SampleResult {
  Points samples;                   // d × n at Tmin
  std::vector<int> frame_steps;     // step index k of each frame (last = steps)
  std::vector<double> frame_times;  // t_k of each frame
  std::vector<Points> frames;       // each d × n, from Tmax (step 0) down to Tmin
  Vec action;                       // per particle: Ã_{θ,η} along its own path (see action.hpp)
  bool cancelled = false;           // true: stopped early, the arrays above are incomplete
};

/// The start points x(Tmax) ~ N(0, I) of `sample` for the same seed (d × n): the first d
/// normals of each particle's stream.
Points prior_samples(int dim, int n, uint64_t seed);

/// The reverse-time grid t_k = Tmax − k (Tmax − Tmin) / steps, k = 0..steps (t_steps = Tmin
/// exactly).
double grid_time(const Schedule& schedule, int steps, int k);

/// Runs the sampler. Euler–Maruyama: x_{k+1} = x_k − F(x_k, t_k) h + √(η h) g(t_k) z_k.
/// Heun (η = 0): x̃ = x_k − F(x_k, t_k) h, x_{k+1} = x_k − h/2 (F(x_k, t_k) + F(x̃, t_{k+1})).
/// Particles run in chunks of 128 in parallel (each chunk steps through the whole grid, so the
/// model sees d × 128 blocks); results do not depend on `threads`.
/// `cancel` is polled every step; on cancel the result has cancelled = true.
/// `progress(fraction ∈ [0, 1])` is only ever called on the calling thread (the thread that
/// called sample), so it may touch the caller's state without locking.
/// Throws Error for η outside [0, 1] (or NaN), steps < 1, n < 1, stride < 0, Heun with η ≠ 0,
/// or a model of dimension < 1.
SampleResult sample(const ScoreModel& model, const Schedule& schedule, const SamplerOptions& options,
                    const std::atomic<bool>* cancel = nullptr,
                    const std::function<void(double)>& progress = {});

}  // namespace diffpath
