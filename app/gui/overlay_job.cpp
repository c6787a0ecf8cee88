#include "overlay_job.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "diffpath/fokker_planck.hpp"
#include "diffpath/stats.hpp"

namespace diffpath::gui {

void grid_shape(const GridWindow& w, int cells, int& nx, int& ny) {
  const double dx = w.x1 - w.x0, dy = w.y1 - w.y0;
  if (dx >= dy) {
    nx = cells;
    ny = std::max(2, int(std::lround(cells * dy / dx)));
  } else {
    ny = cells;
    nx = std::max(2, int(std::lround(cells * dx / dy)));
  }
}

namespace {

// Cell centres of an nx × ny grid over the window, row-major from y0 upwards (2 × nx·ny).
Points grid_points(const GridWindow& w, int nx, int ny) {
  Points p(2, nx * ny);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      p(0, j * nx + i) = w.x0 + (i + 0.5) * (w.x1 - w.x0) / nx;
      p(1, j * nx + i) = w.y0 + (j + 0.5) * (w.y1 - w.y0) / ny;
    }
  return p;
}

void score_field(const OverlayRequest& req, OverlayResult& out) {
  int nx, ny;
  grid_shape(req.window, req.score_cells, nx, ny);
  const Points x = grid_points(req.window, nx, ny);
  out.score_nx = nx;
  out.score_ny = ny;
  Points s;
  req.model->score(x, req.t, s);
  out.arrows.resize(size_t(4 * x.cols()));
  std::vector<double> norms;
  for (int k = 0; k < x.cols(); ++k) {
    out.arrows[4 * k] = float(x(0, k));
    out.arrows[4 * k + 1] = float(x(1, k));
    out.arrows[4 * k + 2] = float(s(0, k));
    out.arrows[4 * k + 3] = float(s(1, k));
    const double n = std::hypot(s(0, k), s(1, k));
    if (std::isfinite(n)) norms.push_back(n);
  }
  out.score_ref = norms.empty() ? 1.0 : std::max(1e-12, quantile(norms, 0.9));
}

// The solver's square domain [−L, L]² for a window: L covers the window, in steps of 0.5 so
// that small pans and zooms reuse the last solve, at least 2.5 (the data sets' extent) and at
// most 6 (the prior's: beyond, q ≈ 0 and the network extrapolates).
double domain_extent(const GridWindow& w) {
  const double need = std::max({std::abs(w.x0), std::abs(w.x1), std::abs(w.y0), std::abs(w.y1)});
  return std::clamp(std::ceil(need * 2.0) / 2.0, 2.5, 6.0);
}

// The last Fokker–Planck solve and what it was for (touched only by the job's worker).
struct DensityCache {
  ScoreModelPtr model;
  Schedule schedule;
  double t = NAN, eta = NAN, extent = NAN;
  int grid = 0;
  std::shared_ptr<const FokkerPlanckResult> result;
};

// Does `cache` hold the solve `req` needs on an N × N grid?
bool cache_fits(const DensityCache& cache, const OverlayRequest& req, int grid) {
  const size_t want_etas = req.density_delta && req.eta > 0 ? 2 : 1;
  return cache.result && cache.model == req.model && cache.schedule == req.schedule &&
         cache.t == req.t && cache.eta == req.eta && cache.extent == domain_extent(req.window) &&
         cache.grid == grid && cache.result->etas.size() >= want_etas;
}

// log q_t^η (and log q_t⁰ for the difference view) on an N × N grid, from the cache when the
// same model, schedule, η, t, domain and grid were solved last.
std::shared_ptr<const FokkerPlanckResult> solve_density(const OverlayRequest& req, int grid,
                                                        DensityCache& cache,
                                                        JobContext<OverlayResult>& ctx, double lo,
                                                        double hi) {
  if (cache_fits(cache, req, grid)) return cache.result;
  const double extent = domain_extent(req.window);
  const bool delta = req.density_delta && req.eta > 0;
  FokkerPlanckOptions o;
  o.grid = grid;
  o.extent = extent;
  o.etas = delta ? std::vector<double>{req.eta, 0.0} : std::vector<double>{req.eta};
  o.times = {std::clamp(req.t, req.schedule.t_min, req.schedule.t_max)};
  o.node_tol = 2e-3;  // a picture: about half the score nodes of the default
  o.threads = 2;
  auto r = std::make_shared<FokkerPlanckResult>(
      solve_fokker_planck(*req.model, req.schedule, o, ctx.cancel_flag(),
                          [&](double f) { ctx.progress(lo + (hi - lo) * f); }));
  if (r->cancelled) return nullptr;
  cache = {req.model, req.schedule, req.t, req.eta, extent, grid, r};
  return r;
}

// The grid's values resampled to the window's cells (bilinear; NaN outside the domain).
bool log_density(const OverlayRequest& req, int grid, DensityCache& cache, OverlayResult& out,
                 JobContext<OverlayResult>& ctx, double progress_lo, double progress_hi) {
  const auto r = solve_density(req, grid, cache, ctx, progress_lo, progress_hi);
  if (!r) return false;
  const bool delta = req.density_delta && req.eta > 0 && r->etas.size() >= 2;
  int nx, ny;
  grid_shape(req.window, grid, nx, ny);
  const Points x = grid_points(req.window, nx, ny);
  out.nx = nx;
  out.ny = ny;
  out.density_t = r->times[0];
  out.density_eta = req.eta;
  out.delta = delta;
  out.resolved = r->resolved(0);
  out.log_density.assign(size_t(nx) * ny, NAN);
  double top = -INFINITY;
  for (Eigen::Index k = 0; k < x.cols(); ++k) top = std::max(top, r->log_density(0, 0, x(0, k), x(1, k)));
  std::vector<double> magnitudes;
  for (Eigen::Index k = 0; k < x.cols(); ++k) {
    const double v = r->log_density(0, 0, x(0, k), x(1, k));
    const double d = delta ? v - r->log_density(1, 0, x(0, k), x(1, k)) : v;
    if (!std::isfinite(d)) continue;
    out.log_density[size_t(k)] = float(d);
    if (delta && v > top - 6.0) magnitudes.push_back(std::abs(d));
  }
  if (delta) {
    // Symmetric around 0, scaled where the mass is (within 6 nats of the peak; farther out
    // |Δ| of the tails would set the scale), its 95th percentile saturating.
    const double m = magnitudes.empty() ? 1.0 : std::max(1e-6, quantile(magnitudes, 0.95));
    out.lo = -m;
    out.hi = m;
  } else {
    out.hi = std::isfinite(top) ? top : 0.0;
    out.lo = out.hi - 12.0;   // 12 nats below the peak: the data region and its surroundings
  }
  return true;
}

}  // namespace

std::unique_ptr<OverlayJob> make_overlay_job() {
  // One cache per stage (coarse, full), so a pan within the domain reuses both.
  auto caches = std::make_shared<std::array<DensityCache, 2>>();
  return std::make_unique<OverlayJob>(
      [caches](const OverlayRequest& req, JobContext<OverlayResult>& ctx) {
        if (!req.model) return;
        const auto t0 = std::chrono::steady_clock::now();
        OverlayResult base;
        base.window = req.window;
        base.t = req.t;
        if (req.score) score_field(req, base);
        if (!req.density) {
          ctx.publish(std::make_shared<OverlayResult>(std::move(base)));
          return;
        }
        // Coarse grid first (a third of the cells per side), then the full one — unless the
        // full solve is cached (a pan or zoom within its domain).
        if (!cache_fits((*caches)[1], req, req.density_cells)) {
          auto coarse = std::make_shared<OverlayResult>(base);
          coarse->coarse = true;
          if (!log_density(req, std::max(16, req.density_cells / 3), (*caches)[0], *coarse, ctx, 0.0, 0.15))
            return;
          if (std::getenv("DIFFPATH_VERBOSE"))
            std::fprintf(stderr, "[overlay] coarse density %dx%d: %.2f s\n", coarse->nx, coarse->ny,
                         std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
          ctx.publish(coarse);
        }
        auto full = std::make_shared<OverlayResult>(std::move(base));
        if (!log_density(req, req.density_cells, (*caches)[1], *full, ctx, 0.15, 1.0)) return;
        full->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (std::getenv("DIFFPATH_VERBOSE"))
          std::fprintf(stderr, "[overlay] density %dx%d: %.2f s\n", full->nx, full->ny, full->seconds);
        ctx.publish(std::move(full));
      },
      /*nice=*/5);
}

}  // namespace diffpath::gui
