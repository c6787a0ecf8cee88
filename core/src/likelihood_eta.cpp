#include <algorithm>
#include <chrono>
#include <limits>
#include <mutex>

#include "diffpath/eta_model.hpp"
#include "diffpath/likelihood.hpp"
#include "diffpath/parallel.hpp"
#include "diffpath/rng.hpp"

// NLL(η) of the η-sampler (DESIGN §1.9): derivation of what is computed here.
//
// Feynman–Kac. ∂_t q + ∇·(F q) + (η g²/2) Δq = 0 with q_T = N(0, I) is, expanded,
// ∂_t q + F·∇q + (η g²/2) Δq + (∇·F) q = 0, so for X forwards in t from X_Tmin = x₀ with
// dX = F dt + √η g dW (law P),  q₀(x₀) = E_P[N(X_T) exp ∫ ∇·F dt].
//
// Importance sampling. Simulate instead dX = b dt + √η g dW̃ (law Q), b = F + η g² s. With
// θ = (F − b)/(√η g) = −√η g s, Girsanov gives log dP/dQ = ∫ θ·dW̃ − ½∫‖θ‖² dt, so
//   log w = log N(X_T) + ∫ ∇·F dt − √η ∫ g s·dW̃ − (η/2) ∫ g² ‖s‖² dt     (Itô).
// If s were ∇log q^η, Q would be the η-sampler's own time reversal and w constant.
//
// Stratonovich form. ∫ g s·dW̃ = ∫ g s∘dW̃ − ½ ∫ √η g² ∇·s dt (the noise coefficient is √η g),
// and ∇·F = d f − (1+η)/2 g² ∇·s, so the ∇·s terms combine into the PF divergence:
//   log w = log N(X_T) + ∫ ∇·v dt − √η ∫ g s∘dW̃ − (η/2) ∫ g² ‖s‖² dt,   ∇·v = d f − g²/2 ∇·s.
// At η = 0 this is §1.5 exactly.
//
// Discretization. X takes stochastic Heun steps (second order for this additive noise):
//   X̃ = X + b(X, t) h + σ̄ ΔW,   X' = X + ½ (b(X, t) + b(X̃, t + h)) h + σ̄ ΔW,
// σ̄² = η ḡ², ḡ² = (g²(t) + g²(t + h))/2. The weight's noise term, taken plainly as a
// Stratonovich trapezoid −½ σ̄ (s + s')·ΔW with −¼ h σ̄² (‖s‖² + ‖s'‖²), is only first order:
// the trapezoid of a time-dependent integrand over-counts the quadratic variation (its
// expectation per step is off by O(h²); measured 0.17 nats at η = 1 with 128 steps for an
// exact Gaussian score). Comparing with a scheme that telescopes exactly when s is the
// gradient of a quadratic (−½(s + s')·ΔX + ½h(s·b' + s'·b) − ½hσ̄² s·s', ΔX the step) gives
// the missing terms' expectations, with J = ∇s and f̄, J averaged over the step ends:
//   + ¼ h² σ̄⁴ ‖J‖²_F  − ¼ h² σ̄² [ f̄ tr J − (1 − η)/2 · ḡ² ‖J‖²_F ].
// Both vanish at η = 0 (plain Heun for §1.5), need only the Jacobian the divergence needs
// anyway, and leave a second-order scheme (measured, same case: 8e-3 at 128 steps, 2e-3 at
// 256). ∫ ∇·v dt is a trapezoid. Cost: per step one score (the predictor; none at η = 1,
// where b = f x) and one score + Jacobian at X', reused at the next step.
//
// Grid. Uniform in λ = log(α²/σ²): for a variance-preserving schedule dλ/dt = −g²/σ², the
// rate at which a score of size ~1/σ² moves paths, so every step carries the same stiffness.
//
// Estimates from the M weights of a point: L = log-mean-exp; with ESS = (Σw)²/Σw² the
// delta method gives se(L) ≈ √((M/ESS − 1)/M) and a Jensen bias −se²/2. The curve's Monte-
// Carlo error and bias come instead from the two halves A, B of the paths (L^A, L^B over M/2
// each): independent, so Var(L) ≈ E(L^A − L^B)²/4 per point, and bias(M/2) = 2 bias(M).

namespace diffpath {

namespace {

constexpr double kLog2Pi = 1.8378770664093453;

// Per-column log-weight of one run of one block of paths at one η.
struct PathRun {
  Vec log_w;
  std::vector<char> ok;
};

// A block of consecutive evaluated points and the layout of its paths: point q of the block
// owns columns [q·m, (q+1)·m) with m paths each.
struct Block {
  std::vector<int> points;   // indices into x0
  bool half_step = false;    // rerun at half the step (the time-step error)
};

// The Brownian increments of a block's paths, as unit normals on the fine (half-step) grid:
// Z[j](:, q·M + m) is fine step j of path m of point q, from Rng(stream_seed(seed, p, m)).
std::vector<Points> draw_increments(int d, const Block& blk, int M, int fine_steps,
                                    uint64_t seed) {
  const int cols = int(blk.points.size()) * M;
  std::vector<Points> Z(fine_steps, Points(d, cols));
  for (size_t q = 0; q < blk.points.size(); ++q)
    for (int m = 0; m < M; ++m) {
      Rng rng(stream_seed(seed, uint64_t(blk.points[q]), uint64_t(m)));
      const int c = int(q) * M + m;
      for (int j = 0; j < fine_steps; ++j)
        for (int i = 0; i < d; ++i) Z[j](i, c) = rng.normal();
    }
  return Z;
}

// Columns that left the bounded region (or turned non-finite) are marked not ok.
void mark_diverged(const Points& x, double bound, std::vector<char>& ok) {
  for (Eigen::Index c = 0; c < x.cols(); ++c)
    if (ok[c] && !(x.col(c).cwiseAbs().maxCoeff() <= bound)) ok[c] = 0;
}

// Runs `m` paths per point of x0b (d × P) at one η over the grid fine_t taken every `stride`
// nodes (2: the `steps` grid, 1: half the step). Z are the fine unit increments, columns laid
// out as in draw_increments with M columns per point; only the first m of each are used.
// Returns false if cancelled.
bool run_paths(const ScoreModel& model, const Schedule& sch, double eta,
               const std::vector<double>& fine_t, int stride, const Points& x0b, int m, int M,
               const std::vector<Points>& Z, double bound, const std::atomic<bool>* cancel,
               PathRun& out) {
  const int d = int(x0b.rows()), P = int(x0b.cols()), cols = P * m;
  Points x(d, cols), xp(d, cols), xn(d, cols), b0(d, cols), sp(d, cols), dW(d, cols), s0;
  for (int q = 0; q < P; ++q) x.middleCols(q * m, m).colwise() = x0b.col(q);
  out.log_w = Vec::Zero(cols);
  out.ok.assign(cols, 1);
  ScoreJet jet;
  const JetIndex ix{d};
  const auto divergence = [&](const ScoreJet& j, Vec& div) {
    div = j.J.row(ix.J(0, 0)).transpose();
    for (int k = 1; k < d; ++k) div += j.J.row(ix.J(k, k)).transpose();
  };
  Vec div0, div1;
  model.score_jacobian(x, fine_t.front(), jet);
  s0 = jet.s;
  divergence(jet, div0);
  Vec jj0 = jet.J.colwise().squaredNorm().transpose();
  const int K = (int(fine_t.size()) - 1) / stride;
  for (int k = 0; k < K; ++k) {
    if (cancel && cancel->load(std::memory_order_relaxed)) return false;
    const int j0 = k * stride;
    const double t = fine_t[j0], tn = fine_t[j0 + stride], h = tn - t;
    const double g2 = sch.g2(t), g2n = sch.g2(tn);
    // ΔW over [t, tn]: the sum of the fine increments it spans.
    for (int q = 0; q < P; ++q) {
      auto dw = dW.middleCols(q * m, m);
      dw.setZero();
      for (int j = j0; j < j0 + stride; ++j)
        dw += std::sqrt(fine_t[j + 1] - fine_t[j]) * Z[j].middleCols(q * M, m);
    }
    const double sigma = std::sqrt(eta * 0.5 * (g2 + g2n));
    b0 = eta_model::proposal_drift(sch, eta, t, x, s0);
    xp = x + h * b0 + sigma * dW;
    if (eta < 1.0) {
      model.score(xp, tn, sp);
      xn = x + (0.5 * h) * (b0 + eta_model::proposal_drift(sch, eta, tn, xp, sp)) + sigma * dW;
    } else {
      xn = x + (0.5 * h) * (b0 + sch.f(tn) * xp) + sigma * dW;  // b = f x: no score needed
    }
    model.score_jacobian(xn, tn, jet);
    divergence(jet, div1);
    const Vec jj1 = jet.J.colwise().squaredNorm().transpose();  // ‖∇s‖²_F
    const Points& s1 = jet.s;
    // ∫∇·v dt, trapezoid (∇·v = d f − g²/2 ∇·s).
    out.log_w.array() += 0.5 * h * ((d * sch.f(t) - 0.5 * g2 * div0.array()) +
                                    (d * sch.f(tn) - 0.5 * g2n * div1.array()));
    if (eta > 0.0) {
      // −√η ∫ g s∘dW − (η/2) ∫ g²‖s‖² dt: trapezoids plus the expected quadratic-variation
      // corrections of the top of the file (they vanish at η = 0: plain Heun there).
      const double sig2 = sigma * sigma, gb2 = 0.5 * (g2 + g2n), fb = 0.5 * (sch.f(t) + sch.f(tn));
      const Vec jj = 0.5 * (jj0 + jj1), tr = 0.5 * (div0 + div1);
      out.log_w -= (0.5 * sigma) * (s0 + s1).cwiseProduct(dW).colwise().sum().transpose();
      out.log_w -= (0.25 * h * sig2) *
                   (s0.colwise().squaredNorm() + s1.colwise().squaredNorm()).transpose();
      out.log_w.array() += (0.25 * h * h * sig2) *
                           (sig2 * jj.array() - fb * tr.array() + 0.5 * (1.0 - eta) * gb2 * jj.array());
    }
    jj0 = jj1;
    x.swap(xn);
    s0 = jet.s;
    div0.swap(div1);
    mark_diverged(x, bound, out.ok);
  }
  out.log_w -= 0.5 * x.colwise().squaredNorm().transpose() + Vec::Constant(cols, 0.5 * d * kLog2Pi);
  for (int c = 0; c < cols; ++c)
    if (!std::isfinite(out.log_w(c))) out.ok[c] = 0;
  return true;
}

// One point's estimate from its m log-weights, and the two half-sample estimates.
struct PointEstimate {
  EtaPointValue value;
  double half_a = NAN, half_b = NAN;
};

PointEstimate estimate(const double* log_w, int m) {
  PointEstimate e;
  const std::span<const double> all(log_w, size_t(m));
  e.value.log_q = log_mean_exp(all);
  if (m == 1) {  // η = 0: the path is deterministic
    e.value.mc_se = e.value.bias = 0.0;
    e.value.ess = 1.0;
    e.half_a = e.half_b = e.value.log_q;
    return e;
  }
  double mx = -std::numeric_limits<double>::infinity();
  for (double a : all) mx = std::max(mx, a);
  double s1 = 0, s2 = 0;
  for (double a : all) {
    const double w = std::exp(a - mx);
    s1 += w;
    s2 += w * w;
  }
  e.value.ess = s1 * s1 / s2;
  const double rel_var = std::max(0.0, double(m) / e.value.ess - 1.0);
  e.value.mc_se = std::sqrt(rel_var / m);
  e.value.bias = -0.5 * rel_var / m;
  e.half_a = log_mean_exp(all.first(size_t(m / 2)));
  e.half_b = log_mean_exp(all.subspan(size_t(m / 2)));
  return e;
}

void check_options(const ScoreModel& model, const Schedule& sch, const Points& x0,
                   const EtaLikelihoodOptions& o) {
  if (o.etas.empty()) throw Error("NLL(eta): no eta values given");
  for (double eta : o.etas)
    if (!(eta >= 0.0 && eta <= 1.0))
      throw Error("NLL(eta): eta must be in [0, 1], got " + format_number(eta));
  if (o.paths < 2) throw Error("NLL(eta): paths must be at least 2, got " + std::to_string(o.paths));
  if (o.steps < 1) throw Error("NLL(eta): steps must be at least 1, got " + std::to_string(o.steps));
  if (o.error_points < -1) throw Error("NLL(eta): error_points must be >= -1");
  if (o.batch_columns < 1) throw Error("NLL(eta): batch_columns must be at least 1");
  if (!(o.divergence_bound > 0)) throw Error("NLL(eta): divergence_bound must be positive");
  if (!(sch.t_max > sch.t_min)) throw Error("NLL(eta): the schedule needs t_max > t_min");
  if (x0.rows() != model.dim())
    throw Error("NLL(eta): points have dimension " + std::to_string(x0.rows()) +
                " but the score model '" + model.spec() + "' has dimension " +
                std::to_string(model.dim()));
  if (model.max_order() < 1)
    throw Error("NLL(eta): score model '" + model.spec() + "' has no x-derivatives");
}

// Per point and η: the estimate at `steps` and its halves, and the half-step rerun.
struct PointRuns {
  std::vector<PointEstimate> at;
  std::vector<double> half_step;
  bool ok = true;
};

// The curve at η index e over the points used.
EtaCurvePoint summarize_eta(double eta, int e, int e0, const std::vector<PointRuns>& runs,
                            const std::vector<int>& used) {
  EtaCurvePoint c;
  c.eta = eta;
  std::vector<double> nll, delta, ess;
  double sq = 0, bias = 0, d_half = 0;
  for (int p : used) {
    const PointEstimate& pe = runs[p].at[e];
    nll.push_back(-pe.value.log_q);
    delta.push_back(-(pe.value.log_q - runs[p].at[e0].value.log_q));
    ess.push_back(pe.value.ess);
    sq += (pe.half_a - pe.half_b) * (pe.half_a - pe.half_b);
    bias += pe.value.log_q - 0.5 * (pe.half_a + pe.half_b);
    if (std::isfinite(runs[p].half_step[e])) {
      d_half += pe.value.log_q - runs[p].half_step[e];
      ++c.err_points;
    }
  }
  const MeanSe m = mean_se(nll);
  c.mean = m.mean;
  c.se = m.se;
  const double n = double(used.size());
  c.mc_se = used.empty() ? NAN : std::sqrt(sq) / (2.0 * n);
  c.bias = used.empty() ? NAN : bias / n;
  c.err = c.err_points ? std::abs(d_half / c.err_points) : NAN;
  c.ess_median = median(ess);
  c.delta = robust_summary(delta);
  return c;
}

}  // namespace

EtaLikelihoodSummary evaluate_likelihood_eta(const ScoreModel& model, const Schedule& schedule,
                                             const Points& x0, const EtaLikelihoodOptions& o,
                                             const std::atomic<bool>* cancel,
                                             const std::function<void(double)>& progress) {
  check_options(model, schedule, x0, o);
  const auto start = std::chrono::steady_clock::now();
  const int d = int(x0.rows()), total = int(x0.cols());
  // η = 0 is always run (one path): the reference of the per-point differences.
  std::vector<double> etas = o.etas;
  int e0 = int(std::find(etas.begin(), etas.end(), 0.0) - etas.begin());
  if (e0 == int(etas.size())) etas.push_back(0.0);
  const int E = int(etas.size());
  const std::vector<double> fine_t = log_snr_grid(schedule, 2 * o.steps);

  EtaLikelihoodSummary sum;
  sum.etas = o.etas;
  sum.points.resize(total);
  std::vector<PointRuns> runs(total);

  // Blocks of consecutive finite points; the half-step points form blocks of their own.
  std::vector<int> todo;
  for (int p = 0; p < total; ++p) {
    if (x0.col(p).allFinite())
      todo.push_back(p);
    else
      sum.points[p].error = "non-finite input point";
  }
  const int n_half = o.error_points < 0 ? int(todo.size()) : std::min<int>(o.error_points, int(todo.size()));
  const int per_block = std::max(1, o.batch_columns / o.paths);
  std::vector<Block> blocks;
  for (int begin = 0; begin < int(todo.size());) {
    const bool half = begin < n_half;
    const int end = std::min(half ? n_half : int(todo.size()), begin + per_block);
    blocks.push_back({std::vector<int>(todo.begin() + begin, todo.begin() + end), half});
    begin = end;
  }

  // Progress in path-steps: a run of m paths on K steps costs m·K.
  auto block_cost = [&](const Block& b) {
    double c = 0;
    for (double eta : etas) c += (eta > 0 ? o.paths : 1) * (b.half_step ? 3.0 : 1.0);
    return c * double(b.points.size());
  };
  double total_cost = 0;
  for (const Block& b : blocks) total_cost += block_cost(b);
  double done_cost = 0;
  std::mutex progress_mutex;

  auto run_block = [&](const Block& blk) {
    const int P = int(blk.points.size());
    Points xb(d, P);
    for (int q = 0; q < P; ++q) xb.col(q) = x0.col(blk.points[q]);
    const std::vector<Points> Z = draw_increments(d, blk, o.paths, 2 * o.steps, o.seed);
    for (int q = 0; q < P; ++q) {
      runs[blk.points[q]].at.resize(E);
      runs[blk.points[q]].half_step.assign(E, NAN);
    }
    PathRun r;
    for (int e = 0; e < E; ++e) {
      const int m = etas[e] > 0 ? o.paths : 1;
      for (int stride : {2, 1}) {
        if (stride == 1 && !blk.half_step) continue;
        if (!run_paths(model, schedule, etas[e], fine_t, stride, xb, m, o.paths, Z,
                       o.divergence_bound, cancel, r))
          return;
        for (int q = 0; q < P; ++q) {
          PointRuns& pr = runs[blk.points[q]];
          const bool ok = std::all_of(r.ok.begin() + q * m, r.ok.begin() + (q + 1) * m,
                                      [](char c) { return c != 0; });
          if (!ok) {
            pr.ok = false;
            EtaPoint& pt = sum.points[blk.points[q]];
            if (pt.error.empty())
              pt.error = "a path diverged at eta = " + format_number(etas[e]) +
                         (stride == 1 ? " (half-step rerun)" : "");
          }
          if (stride == 2)
            pr.at[e] = estimate(r.log_w.data() + q * m, m);
          else
            pr.half_step[e] = log_mean_exp(std::span<const double>(r.log_w.data() + q * m, size_t(m)));
        }
      }
    }
    for (int q = 0; q < P; ++q) {
      const int p = blk.points[q];
      EtaPoint& pt = sum.points[p];
      pt.at.resize(o.etas.size());
      for (size_t e = 0; e < o.etas.size(); ++e) {
        pt.at[e] = runs[p].at[e].value;
        pt.at[e].log_q_half = runs[p].half_step[e];
      }
      pt.ok = runs[p].ok;
    }
    if (progress) {
      std::lock_guard<std::mutex> lock(progress_mutex);
      done_cost += block_cost(blk);
      progress(done_cost / std::max(1.0, total_cost));
    }
  };

  const int threads = std::max(1, o.threads > 0 ? o.threads : default_threads());
  const int n_blocks = int(blocks.size());
  std::atomic<int> next{0};
  std::atomic<bool> abort{false};
  parallel_for(std::min(threads, std::max(1, n_blocks)), threads, [&](int wb, int we) {
    for (int w = wb; w < we; ++w) {
      const auto stop = [&] { return abort.load() || (cancel && cancel->load()); };
      for (int b; !stop() && (b = next++) < n_blocks;) {
        try {
          run_block(blocks[b]);
        } catch (...) {
          abort = true;
          throw;
        }
      }
    }
  });

  sum.cancelled = cancel && cancel->load();
  std::vector<int> used;
  for (int p = 0; p < total; ++p) {
    EtaPoint& pt = sum.points[p];
    if (pt.ok) used.push_back(p);
    else if (pt.error.empty()) pt.error = "cancelled before this point was evaluated";
  }
  sum.n = int(used.size());
  sum.excluded = total - sum.n;
  for (size_t e = 0; e < o.etas.size(); ++e)
    sum.curve.push_back(summarize_eta(o.etas[e], int(e), e0, runs, used));
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return sum;
}

double first_order_holds_up_to(const std::vector<EtaCurvePoint>& curve, double wkb_mean) {
  if (!std::isfinite(wkb_mean)) return NAN;
  const auto abs_or_0 = [](double v) { return std::isfinite(v) ? std::abs(v) : 0.0; };
  double holds = NAN;
  for (const EtaCurvePoint& c : curve) {
    if (!(c.eta > 0)) continue;
    const double se = abs_or_0(c.delta.mean.se);
    const double own = abs_or_0(c.mc_se) + abs_or_0(c.bias) + abs_or_0(c.err);
    const double miss = std::abs(c.delta.mean.mean - c.eta * wkb_mean);
    if (!(miss <= 2 * se + own + 0.01)) return std::isnan(holds) ? 0.0 : holds;
    holds = c.eta;
  }
  return holds;
}

}  // namespace diffpath
