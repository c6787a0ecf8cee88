#include "overlay_job.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "diffpath/likelihood.hpp"
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

}  // namespace

double density_time(const Schedule& schedule, double t) {
  // Below σ² = 0.04 the probability-flow ODE started from grid points away from the data is
  // stiff (|s| ~ distance / σ²): a 40 × 40 grid at Tmin takes minutes instead of seconds.
  const double t_floor = std::clamp(schedule.time_at_sigma2(0.04), schedule.t_min, schedule.t_max);
  return std::clamp(t, t_floor, schedule.t_max - 0.05);
}

namespace {

// log q_t on the grid: the PF-ODE from t to Tmax (the schedule's lower end moved to t).
bool log_density(const OverlayRequest& req, int cells, OverlayResult& out,
                 JobContext<OverlayResult>& ctx, double progress_lo, double progress_hi) {
  int nx, ny;
  grid_shape(req.window, cells, nx, ny);
  const Points x = grid_points(req.window, nx, ny);
  Schedule sc = req.schedule;
  sc.t_min = density_time(req.schedule, req.t);
  out.density_t = sc.t_min;
  LikelihoodOptions opt;
  opt.rtol = opt.atol = 1e-3;   // a picture, not a table: ~1e-3 nats is far below a colour step
  opt.wkb = false;
  opt.error_estimate = false;
  opt.threads = 2;
  const LikelihoodSummary s = evaluate_likelihood(*req.model, sc, x, opt, ctx.cancel_flag(), [&](double f) {
    ctx.progress(progress_lo + (progress_hi - progress_lo) * f);
  });
  if (s.cancelled) return false;
  out.nx = nx;
  out.ny = ny;
  out.log_density.assign(size_t(nx) * ny, NAN);
  double hi = -INFINITY;
  for (size_t k = 0; k < s.points.size(); ++k)
    if (s.points[k].ok && std::isfinite(s.points[k].nll)) {
      out.log_density[k] = float(-s.points[k].nll);
      hi = std::max(hi, -s.points[k].nll);
    }
  out.hi = std::isfinite(hi) ? hi : 0.0;
  out.lo = out.hi - 12.0;   // 12 nats below the peak: the data region and its surroundings
  return true;
}

}  // namespace

std::unique_ptr<OverlayJob> make_overlay_job() {
  return std::make_unique<OverlayJob>(
      [](const OverlayRequest& req, JobContext<OverlayResult>& ctx) {
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
        // Coarse grid first (a quarter of the cells), then the full one.
        auto coarse = std::make_shared<OverlayResult>(base);
        coarse->coarse = true;
        if (!log_density(req, std::max(8, req.density_cells / 3), *coarse, ctx, 0.0, 0.15)) return;
        if (std::getenv("DIFFPATH_VERBOSE"))
          std::fprintf(stderr, "[overlay] coarse density %dx%d: %.2f s\n", coarse->nx, coarse->ny,
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        ctx.publish(coarse);
        auto full = std::make_shared<OverlayResult>(std::move(base));
        if (!log_density(req, req.density_cells, *full, ctx, 0.15, 1.0)) return;
        full->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (std::getenv("DIFFPATH_VERBOSE"))
          std::fprintf(stderr, "[overlay] density %dx%d: %.2f s\n", full->nx, full->ny, full->seconds);
        ctx.publish(std::move(full));
      },
      /*nice=*/5);
}

}  // namespace diffpath::gui
