#include "diffpath/sampler.hpp"

#include <atomic>
#include <cmath>
#include <thread>

#include "diffpath/eta_model.hpp"
#include "diffpath/parallel.hpp"
#include "diffpath/rng.hpp"

namespace diffpath {

namespace {

// Particles per block handed to the model: large enough that an MLP evaluates its layers as
// matrix products (its own blocks are 128 wide), small enough that a block's state stays in
// cache and that the blocks, handed out one at a time, keep every thread busy to the end.
constexpr int kChunk = 128;

void validate(const ScoreModel& model, const Schedule& schedule, const SamplerOptions& o) {
  if (model.dim() < 1) throw Error("sample: the score model has dimension < 1");
  if (!(o.eta >= 0.0 && o.eta <= 1.0))
    throw Error("sample: eta must be in [0, 1], got " + std::to_string(o.eta));
  if (o.steps < 1) throw Error("sample: steps must be >= 1, got " + std::to_string(o.steps));
  if (o.n < 1) throw Error("sample: n must be >= 1, got " + std::to_string(o.n));
  if (o.stride < 0) throw Error("sample: stride must be >= 0, got " + std::to_string(o.stride));
  if (o.solver == Solver::Heun && o.eta != 0.0)
    throw Error("sample: the Heun solver is deterministic and needs eta = 0");
  schedule.validate();
}

/// F_{θ,η}(x, t) (eta_model.hpp); `score` is scratch for s.
void drift(const ScoreModel& model, const Schedule& schedule, double eta, const Points& x,
           double t, Points& score, Points& out) {
  model.score(x, t, score);
  out = eta_model::drift(schedule, eta, t, x, score);
}

/// The frames to record: every `stride` steps from step 0, and always the last step.
std::vector<int> frame_steps_for(int steps, int stride) {
  std::vector<int> out;
  if (stride > 0)
    for (int k = 0; k < steps; k += stride) out.push_back(k);
  out.push_back(steps);
  return out;
}

/// Draws particle streams' next d normals into the columns of z (one stream per column).
void draw_normals(std::vector<Rng>& rngs, Points& z) {
  for (Eigen::Index p = 0; p < z.cols(); ++p)
    for (Eigen::Index j = 0; j < z.rows(); ++j) z(j, p) = rngs[p].normal();
}

/// Shared state of one sample() call; each chunk of particles writes only its own columns.
struct Run {
  const ScoreModel& model;
  const Schedule& schedule;
  const SamplerOptions& opt;
  const std::atomic<bool>* cancel;
  const std::function<void(double)>& progress;
  std::thread::id caller;
  std::vector<int> frame_of_step;   // step → frame index, −1 if not recorded
  std::atomic<int64_t> done{0};      // particle-steps finished, for progress
  std::atomic<bool> stop{false};     // another chunk threw
  std::atomic<bool> incomplete{false};  // some chunk stopped early
  SampleResult& result;

  bool stopped() const {
    return stop.load(std::memory_order_relaxed) ||
           (cancel && cancel->load(std::memory_order_relaxed));
  }

  void record(int step, int c0, const Points& x) {
    const int f = frame_of_step[step];
    if (f >= 0) result.frames[f].middleCols(c0, x.cols()) = x;
  }

  /// Runs particles [c0, c1) through all steps. Returns false if stopped early.
  bool run_chunk(int c0, int c1) {
    const int d = model.dim(), m = c1 - c0, N = opt.steps;
    const double eta = opt.eta;
    std::vector<Rng> rngs;
    rngs.reserve(m);
    for (int i = c0; i < c1; ++i) rngs.emplace_back(stream_seed(opt.seed, uint64_t(i)));
    Points x(d, m), xn(d, m), z(d, m), F(d, m), F2(d, m), s(d, m);
    draw_normals(rngs, x);
    record(0, c0, x);
    Vec action = Vec::Zero(m);
    const bool on_caller = std::this_thread::get_id() == caller;
    const int64_t total = int64_t(opt.n) * N;

    for (int k = 0; k < N; ++k) {
      if (stopped()) {
        incomplete = true;
        return false;
      }
      const double t = grid_time(schedule, N, k), tn = grid_time(schedule, N, k + 1);
      const double h = t - tn, g2 = schedule.g2(t);
      drift(model, schedule, eta, x, t, s, F);
      if (opt.solver == Solver::Heun) {
        xn = x - h * F;
        drift(model, schedule, eta, xn, tn, s, F2);
        xn = x - (0.5 * h) * (F + F2);
      } else {
        // Increments are drawn for every η (and η = 0): the streams stay aligned across η.
        draw_normals(rngs, z);
        xn = x - h * F + std::sqrt(eta * h * g2) * z;
      }
      if (opt.record_action) {
        // The EM-consistent action increment (action.hpp); on an EM path it is η‖z_k‖²/2 up
        // to round-off.
        action += eta_model::action_increment(schedule, t, h, x, xn, F);
      }
      x.swap(xn);
      record(k + 1, c0, x);
      const int64_t now = done.fetch_add(m, std::memory_order_relaxed) + m;
      if (on_caller && progress) progress(double(now) / double(total));
    }
    result.samples.middleCols(c0, m) = x;
    if (opt.record_action) result.action.segment(c0, m) = action;
    return true;
  }
};

}  // namespace

double grid_time(const Schedule& schedule, int steps, int k) {
  if (k >= steps) return schedule.t_min;
  return schedule.t_max - double(k) * (schedule.t_max - schedule.t_min) / double(steps);
}

Points prior_samples(int dim, int n, uint64_t seed) {
  if (dim < 1 || n < 0) throw Error("prior_samples: need dim >= 1 and n >= 0");
  Points x(dim, n);
  for (int i = 0; i < n; ++i) {
    Rng rng(stream_seed(seed, uint64_t(i)));
    for (int j = 0; j < dim; ++j) x(j, i) = rng.normal();
  }
  return x;
}

SampleResult sample(const ScoreModel& model, const Schedule& schedule, const SamplerOptions& options,
                    const std::atomic<bool>* cancel, const std::function<void(double)>& progress) {
  validate(model, schedule, options);
  const int d = model.dim(), n = options.n;
  SampleResult result;
  result.samples.setZero(d, n);
  if (options.record_action) result.action.setZero(n);
  result.frame_steps = frame_steps_for(options.steps, options.stride);
  for (int k : result.frame_steps) {
    result.frame_times.push_back(grid_time(schedule, options.steps, k));
    result.frames.emplace_back(Points::Zero(d, n));
  }

  Run run{model, schedule, options, cancel, progress, std::this_thread::get_id(), {}, {}, {}, {},
          result};
  run.frame_of_step.assign(options.steps + 1, -1);
  for (size_t f = 0; f < result.frame_steps.size(); ++f)
    run.frame_of_step[result.frame_steps[f]] = int(f);

  // Chunks are handed out one at a time, not split in fixed ranges: a thread that shares its
  // core (with an animation's renderer, the window) takes fewer of them instead of holding up
  // the others. A chunk's particles have their own random streams, so the result is the same
  // whichever thread runs it.
  const int chunks = (n + kChunk - 1) / kChunk;
  const int workers = std::min(chunks, options.threads > 0 ? options.threads : default_threads());
  std::atomic<int> next{0};
  parallel_for(workers, workers, [&](int, int) {
    try {
      for (int c = next++; c < chunks; c = next++)
        if (!run.run_chunk(c * kChunk, std::min(n, (c + 1) * kChunk))) return;
    } catch (...) {
      run.stop = true;  // no point in finishing the other chunks
      throw;
    }
  });
  result.cancelled = run.incomplete.load();
  if (!result.cancelled && progress) progress(1.0);
  return result;
}

}  // namespace diffpath
