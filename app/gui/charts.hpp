#pragma once
// The charts of the app. Each chart is a core Figure (figure.hpp) built from the session's
// published results; the same Figure is rendered by Cairo into a texture for the screen and
// into PNG/SVG/PDF for export, so what you see is what you export.
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "diffpath/figure.hpp"
#include "gl_util.hpp"
#include "latest_job.hpp"
#include "session.hpp"

namespace diffpath::gui {

/// DeltaLogQ shares the c-map's place in the window (a View toggle picks which is shown).
enum class ChartId { Loss, NllStep, NllEta, W2, Action, CMap, DeltaLogQ };
inline constexpr int kChartCount = 7;
/// "loss", "nll-step", "nll-eta", "w2", "action", "c-map", "delta-log-q"
const char* chart_name(ChartId id);
const char* chart_title(ChartId id);
std::optional<ChartId> parse_chart_name(const std::string& name);

class Charts {
 public:
  Charts();
  ~Charts();
  Charts(const Charts&) = delete;
  Charts& operator=(const Charts&) = delete;

  /// Rebuilds the figures whose inputs changed and re-renders their textures (at most a few
  /// times per second while results stream in). Needs the GL context.
  void update(const Session& s, double eta, double eta_max, int width_px, int height_px, double now_seconds);
  /// Draws chart `id` as an image of `size` (or a placeholder until it has data).
  void draw(ChartId id, float width, float height) const;
  /// Writes chart `id` with the current results (.png, .svg or .pdf). Throws Error.
  void export_chart(ChartId id, const Session& s, double eta, double eta_max, const std::string& path,
                    int width = 900, int height = 600) const;
  /// Number of chart textures replaced by the last update() (bench: frames with uploads).
  int uploads_last_update() const { return uploads_; }

 private:
  struct Slot {
    Texture texture;
    std::string signature;    // what the rendered texture shows (versions, η, size)
    double rendered_at = -1.0;
    bool has_data = false;
  };
  // Background Cairo rendering: figures in, RGBA images out.
  struct RenderItem {
    int index = 0;
    std::string signature;
    bool has_data = false;
    Figure figure;
  };
  struct RenderRequest {
    int width = 0, height = 0;
    std::vector<RenderItem> items;
  };
  struct RenderedChart {
    int index = 0;
    std::string signature;
    bool has_data = false;
    int width = 0, height = 0;
    std::vector<uint8_t> rgba;
  };
  struct RenderResult {
    std::vector<RenderedChart> charts;
  };
  using RenderJob = LatestJob<RenderRequest, RenderResult>;

  std::array<Slot, kChartCount> slots_;
  std::unique_ptr<RenderJob> renderer_;
  uint64_t seen_render_ = 0;
  double last_submit_ = -1.0;
  int width_ = 0, height_ = 0;
  int uploads_ = 0;
};

/// The figure of chart `id` for the current results; has_data = false when there is nothing
/// to plot yet (the figure then carries a note saying what it waits for).
/// η charts span [0, eta_max] (0.2 in the fine mode, where the paper looks, else 1).
Figure build_chart(ChartId id, const Session& s, double eta, double eta_max, bool& has_data);
/// The maps over the evaluation points (chart_maps.cpp): c(x₀) of the main model, with its
/// heavy tail ringed; Δ log q at η from its NLL(η) curve (linear between the grid's η).
Figure c_map_chart(const Session& s, bool& has_data);
Figure delta_log_q_chart(const Session& s, double eta, bool& has_data);
/// A short string that changes whenever the chart's inputs change.
std::string chart_signature(ChartId id, const Session& s, double eta, double eta_max);

}  // namespace diffpath::gui
