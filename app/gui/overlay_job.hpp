#pragma once
// Viewport overlays of the viewed model, computed in the background (never on the GUI thread):
//   - the score field s(x, t) at the scrubber's time t on a grid of the visible window;
//   - the PF-ODE log-density log q_t(x) on a grid: the core's likelihood machinery run from t
//     (the schedule's lower end moved to t) up to Tmax, exact divergence, so at t = Tmin it is
//     the model's data density log q₀ and at larger t the density of the noised model.
// Progressive: the score field first (cheap), then a coarse density grid, then the full one.
#include <memory>
#include <vector>

#include "diffpath/schedule.hpp"
#include "diffpath/score_model.hpp"
#include "latest_job.hpp"

namespace diffpath::gui {

/// World-space rectangle of a grid.
struct GridWindow {
  double x0 = -1, x1 = 1, y0 = -1, y1 = 1;
  bool operator==(const GridWindow&) const = default;
};

struct OverlayRequest {
  ScoreModelPtr model;
  Schedule schedule;
  double t = 0.0;
  GridWindow window;
  bool score = false, density = false;
  int score_cells = 28;     // arrows along the longer side
  int density_cells = 32;   // full-resolution heatmap along the longer side (~750 ODEs)
};

struct OverlayResult {
  GridWindow window;
  double t = 0.0;
  // Score arrows: per grid point x, y, s_x, s_y.
  std::vector<float> arrows;
  int score_nx = 0, score_ny = 0;
  double score_ref = 1.0;   // 90th percentile of |s| (arrow length scale)
  // Heatmap: log q_t on nx × ny cell centres, row-major from y0 upwards; NaN where the ODE
  // failed. lo/hi: the displayed range (max − 12 nats .. max).
  int nx = 0, ny = 0;
  std::vector<float> log_density;
  double lo = 0.0, hi = 1.0;
  double density_t = 0.0;   // the time the heatmap shows (density_time)
  bool coarse = false;
  double seconds = 0.0;
};

using OverlayJob = LatestJob<OverlayRequest, OverlayResult>;

std::unique_ptr<OverlayJob> make_overlay_job();

/// The time the log-density heatmap is computed at for scrubber time t: t itself, but not
/// below the time where σ(t)² = 0.04 (the ODE from grid points far from the data is stiff
/// there; the density at that time is already sharp: the data blurred by σ = 0.2).
double density_time(const Schedule& schedule, double t);

/// The grid shape for `cells` cells along the longer side of `w`.
void grid_shape(const GridWindow& w, int cells, int& nx, int& ny);

}  // namespace diffpath::gui
