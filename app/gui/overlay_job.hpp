#pragma once
// Viewport overlays of the viewed model, computed in the background (never on the GUI thread):
//   - the score field s(x, t) at the scrubber's time t on a grid of the visible window;
//   - the η-model's log-density log q_t^η(x) at the scrubber's time, for the slider's η: its
//     Fokker–Planck equation on a grid (core fokker_planck.hpp) from Tmax down to t, any t down
//     to Tmin; or, as the difference view, log q_t^η − log q_t⁰ (where noise moves mass).
// Progressive: the score field first (cheap), then a coarse density grid, then the full one.
// The last solve is kept: panning or zooming within its domain only resamples it.
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
  double eta = 0.0;         // the η-model whose density is shown
  GridWindow window;
  bool score = false, density = false;
  bool density_delta = false;   // show log q_t^η − log q_t⁰ instead of log q_t^η
  int score_cells = 28;     // arrows along the longer side
  int density_cells = 96;   // the full solve's grid per side (coarse: a third)
};

struct OverlayResult {
  GridWindow window;
  double t = 0.0;
  // Score arrows: per grid point x, y, s_x, s_y.
  std::vector<float> arrows;
  int score_nx = 0, score_ny = 0;
  double score_ref = 1.0;   // 90th percentile of |s| (arrow length scale)
  // Heatmap: log q_t^η (or the difference to η = 0) on nx × ny cell centres of the window,
  // row-major from y0 upwards; NaN outside the solver's domain. lo/hi: the displayed range
  // (max − 12 nats .. max; symmetric around 0 for the difference).
  int nx = 0, ny = 0;
  std::vector<float> log_density;
  double lo = 0.0, hi = 1.0;
  double density_t = 0.0;   // the time the heatmap shows
  double density_eta = 0.0;
  bool delta = false;       // the difference view (a diverging colormap)
  bool resolved = true;     // the solver resolved the model's width at density_t
  bool coarse = false;
  double seconds = 0.0;
};

using OverlayJob = LatestJob<OverlayRequest, OverlayResult>;

std::unique_ptr<OverlayJob> make_overlay_job();

/// The grid shape for `cells` cells along the longer side of `w`.
void grid_shape(const GridWindow& w, int cells, int& nx, int& ny);

}  // namespace diffpath::gui
