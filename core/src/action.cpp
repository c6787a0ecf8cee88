#include "diffpath/action.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "diffpath/eta_model.hpp"
#include "diffpath/parallel.hpp"
#include "diffpath/rng.hpp"
#include "diffpath/sampler.hpp"
#include "diffpath/stats.hpp"
#include "diffpath/trainer.hpp"

namespace diffpath {

namespace {

constexpr int kChunk = 256;  // paths per block handed to the models

MeanSe mean_se_of(const Vec& v) { return mean_se(std::span<const double>(v.data(), size_t(v.size()))); }

void draw_normals(Rng& rng, Eigen::Ref<Vec> z) {
  for (Eigen::Index j = 0; j < z.size(); ++j) z(j) = rng.normal();
}

}  // namespace

Vec path_actions(const ScoreModel& model, const Schedule& schedule, double eta,
                 const std::vector<double>& times, const std::vector<Points>& frames) {
  if (!(eta >= 0.0 && eta <= 1.0)) throw Error("path_actions: eta must be in [0, 1]");
  if (frames.size() != times.size())
    throw Error("path_actions: " + std::to_string(frames.size()) + " frames but " +
                std::to_string(times.size()) + " times");
  if (frames.size() < 2) throw Error("path_actions: need at least 2 frames");
  const Eigen::Index d = frames[0].rows(), n = frames[0].cols();
  if (d != model.dim())
    throw Error("path_actions: paths are " + std::to_string(d) + "-dimensional, the model " +
                std::to_string(model.dim()) + "-dimensional");
  for (const Points& f : frames)
    if (f.rows() != d || f.cols() != n) throw Error("path_actions: frames differ in shape");
  for (size_t j = 0; j + 1 < times.size(); ++j)
    if (!(times[j] > times[j + 1])) throw Error("path_actions: times must strictly decrease");

  Vec action = Vec::Zero(n);
  Points s, F;
  for (size_t j = 0; j + 1 < frames.size(); ++j) {
    const double t = times[j], h = t - times[j + 1];
    model.score(frames[j], t, s);
    F = eta_model::drift(schedule, eta, t, frames[j], s);
    action += eta_model::action_increment(schedule, t, h, frames[j], frames[j + 1], F);
  }
  return action;
}

// Why the drift sits at x_k, the later-time end of each reverse step.
// Read backwards in time, the data process obeys the reverse SDE
//   dx = F(x, t) dt + g dw̄,  F = f x − g² ∇log p_t  (η = 1, dt < 0),
// whose filtration runs from Tmax down: the noise of the step t_k → t_{k+1} is independent of
// x_k = x(t_k), not of x_{k+1}. So Δ_k = x_{k+1} − x_k = −F(x_k, t_k) h + g√h z_k + O(h²) in
// conditional mean, and with δs = s_θ − ∇log p_t at (x_k, t_k), F_θ − F = −g² δs:
//   Ã_θ − Ã = Σ_k (‖Δ + F_θ h‖² − ‖Δ + F h‖²) / (2 g² h)
//           = Σ_k [ −δs · (Δ + F h) + g² h ‖δs‖² / 2 ].
// The first term has conditional mean O(h²) given x_k, so
//   E_P[Ã_θ − Ã] = Σ_k g² h E‖δs‖²/2 + O(h) → ∫ g²/2 E_{p_t}‖δs‖² dt.
// Had the drift been evaluated at x_{k+1} (forward Itô), δs would be correlated with the step's
// own noise and E[−δs · g√h z] = −g² h E[∇·δs] + … per step: an O(1) bias that does not
// vanish with h. The sampler (sampler.hpp) uses the same convention, so its paths and these
// actions are one discretization.
ActionKl action_kl_bound(const ScoreModel& model, const ScoreModel& exact, const Schedule& schedule,
                         const Points& data, int steps, uint64_t seed, int threads,
                         const std::atomic<bool>* cancel) {
  const int d = int(data.rows()), P = int(data.cols()), N = steps;
  if (model.dim() != d || exact.dim() != d)
    throw Error("action_kl_bound: data are " + std::to_string(d) + "-dimensional, models " +
                std::to_string(model.dim()) + " and " + std::to_string(exact.dim()));
  if (P < 2) throw Error("action_kl_bound: need at least 2 data points");
  if (N < 1) throw Error("action_kl_bound: steps must be >= 1");
  if (!data.allFinite()) throw Error("action_kl_bound: data contain NaN or Inf");

  std::vector<double> t(N + 1);
  for (int k = 0; k <= N; ++k) t[k] = grid_time(schedule, N, k);

  Vec by_actions(P), by_loss(P);
  const int chunks = (P + kChunk - 1) / kChunk;
  parallel_for(chunks, threads, [&](int begin, int end) {
    std::vector<Points> path(N + 1);
    Points s_model, s_exact, delta_s, sum, x;
    for (int c = begin; c < end && !(cancel && cancel->load(std::memory_order_relaxed)); ++c) {
      const int c0 = c * kChunk, m = std::min(P, c0 + kChunk) - c0;
      const auto x0 = data.middleCols(c0, m);

      // Forward data paths on the grid, from Tmin up to Tmax (k = N down to 0), with exact
      // VP transitions x_k = r x_{k+1} + √(1 − r²) z, r = α(t_k)/α(t_{k+1}).
      for (auto& p : path) p.resize(d, m);
      Points z(d, m);
      std::vector<Rng> rngs;
      for (int i = 0; i < m; ++i) rngs.emplace_back(stream_seed(seed, uint64_t(c0 + i), 0));
      for (int i = 0; i < m; ++i) draw_normals(rngs[i], z.col(i));
      path[N] = schedule.alpha(t[N]) * x0 + schedule.sigma(t[N]) * z;
      for (int k = N - 1; k >= 0; --k) {
        const double r = schedule.alpha(t[k]) / schedule.alpha(t[k + 1]);
        for (int i = 0; i < m; ++i) draw_normals(rngs[i], z.col(i));
        path[k] = r * path[k + 1] + std::sqrt((1.0 - r) * (1.0 + r)) * z;
      }

      // Action difference, in the cancellation-free form −½ δs · (2Δ + (F + F_θ) h), the
      // drifts at η = 1.
      Vec acc = Vec::Zero(m);
      for (int k = 0; k < N; ++k) {
        const double h = t[k] - t[k + 1];
        model.score(path[k], t[k], s_model);
        exact.score(path[k], t[k], s_exact);
        delta_s = s_model - s_exact;
        sum = 2.0 * (path[k + 1] - path[k]) +
              h * (eta_model::drift(schedule, 1.0, t[k], path[k], s_model) +
                   eta_model::drift(schedule, 1.0, t[k], path[k], s_exact));
        acc -= 0.5 * (delta_s.array() * sum.array()).colwise().sum().matrix().transpose();
      }
      by_actions.segment(c0, m) = acc;

      // The loss integral, trapezoid rule on the same grid, fresh x_t = α x₀ + σ z per node.
      for (int i = 0; i < m; ++i) rngs[i] = Rng(stream_seed(seed, uint64_t(c0 + i), 1));
      acc.setZero();
      for (int k = 0; k <= N; ++k) {
        const double w = 0.5 * ((k > 0 ? t[k - 1] : t[k]) - (k < N ? t[k + 1] : t[k]));
        for (int i = 0; i < m; ++i) draw_normals(rngs[i], z.col(i));
        x = schedule.alpha(t[k]) * x0 + schedule.sigma(t[k]) * z;
        model.score(x, t[k], s_model);
        exact.score(x, t[k], s_exact);
        acc += (w * 0.5 * schedule.g2(t[k])) * (s_model - s_exact).colwise().squaredNorm().transpose();
      }
      by_loss.segment(c0, m) = acc;
    }
  });

  ActionKl out;
  out.cancelled = cancel && cancel->load();
  const MeanSe actions = mean_se_of(by_actions), loss = mean_se_of(by_loss);
  out.by_actions = actions.mean;
  out.by_actions_se = actions.se;
  out.by_loss = loss.mean;
  out.by_loss_se = loss.se;
  out.paths = P;
  out.steps = N;
  return out;
}

LossEstimate dsm_loss_estimate(const ScoreModel& model, const Schedule& schedule, const Points& data,
                               int per_time, uint64_t seed, int threads,
                               const std::atomic<bool>* cancel) {
  const int d = int(data.rows()), n = int(data.cols());
  if (model.dim() != d)
    throw Error("dsm_loss_estimate: data are " + std::to_string(d) + "-dimensional, the model " +
                std::to_string(model.dim()) + "-dimensional");
  if (n < 1) throw Error("dsm_loss_estimate: no data points");
  if (!data.allFinite()) throw Error("dsm_loss_estimate: data contain NaN or Inf");
  if (per_time < 1) throw Error("dsm_loss_estimate: per_time must be >= 1");

  // Per grid time: the mean of the draws and the variance of that mean.
  Vec per_t(kTrainTimeGrid), var_t(kTrainTimeGrid);
  parallel_for(kTrainTimeGrid, threads, [&](int begin, int end) {
    Points x(d, per_time), z(d, per_time), s;
    Vec loss;
    for (int k = begin; k < end && !(cancel && cancel->load(std::memory_order_relaxed)); ++k) {
      const double t = train_grid_time(schedule, k);
      const double a = schedule.alpha(t), sg = schedule.sigma(t);
      Rng rng(stream_seed(seed, uint64_t(k), 2));
      for (int j = 0; j < per_time; ++j) {
        const int i = std::min(n - 1, int(rng.uniform() * n));
        draw_normals(rng, z.col(j));
        x.col(j) = a * data.col(i) + sg * z.col(j);
      }
      model.score(x, t, s);
      loss = schedule.g2(t) * (s + z / sg).colwise().squaredNorm().transpose();
      per_t(k) = loss.mean();
      const double se = mean_se_of(loss).se;  // NaN for per_time = 1: no spread to measure
      var_t(k) = se * se;
    }
  });
  // Stratified: the grid is fixed, so only the within-time spread is Monte-Carlo error.
  LossEstimate out;
  out.cancelled = cancel && cancel->load();
  out.mean = per_t.mean();
  out.se = std::sqrt(var_t.sum()) / kTrainTimeGrid;
  out.samples = kTrainTimeGrid * per_time;
  return out;
}

}  // namespace diffpath
