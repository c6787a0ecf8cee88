#pragma once
// The OpenGL viewport: the camera (pan/zoom), the mouse (hover, painting points) and the order
// of its render layers (viewport_layers.hpp: density, data, trails, arrows, particles), drawn
// with our shaders into an off-screen target shown as an ImGui image and exported as PNG or
// SVG (the core scene, scene.hpp, drawn by Cairo: the same picture the animations use). No
// numerics: layers only lay out published results.
#include <memory>
#include <string>
#include <vector>

#include <epoxy/gl.h>
#include <imgui.h>

#include "diffpath/common.hpp"
#include "eval_job.hpp"
#include "experiment.hpp"
#include "gl_util.hpp"
#include "overlay_job.hpp"
#include "sampling_job.hpp"
#include "viewport_layers.hpp"

namespace diffpath::gui {

/// World window: centre and half of the visible height (the width follows the aspect).
struct Camera {
  double cx = 0.0, cy = 0.0, half_height = 2.0;
};

struct ViewportOptions {
  bool show_particles = true;
  bool show_trails = true;
  bool show_data = true;
  TrailColor trail_color = TrailColor::Time;
  float particle_size = 3.5f;
  float trail_alpha = 0.25f;
  bool show_score = false;     // arrows of s(x, t) at the scrubber's time
  bool show_density = false;   // the η-model's log-density heatmap log q_t^η (Fokker–Planck)
  bool density_delta = false;  // ... or its difference log q_t^η − log q_t⁰ (diverging colours)
  float density_alpha = 0.6f;
  bool paint = false;     // left-drag paints data points instead of panning
  float brush = 0.08f;    // world-space spread of painted points
};

/// What the options draw, as the core scene's style (SVG export, animations).
SceneStyle scene_style(const ViewportOptions& opt, int trail_every);

struct ViewportOutput {
  Points painted = Points(2, 0);   // points painted this frame (paint mode)
  bool hovered = false;            // mouse over the viewport
};

class Viewport {
 public:
  Viewport() = default;
  Viewport(const Viewport&) = delete;
  Viewport& operator=(const Viewport&) = delete;

  /// Compiles the shaders. false: error() says why (the window then shows the message).
  bool init();
  const std::string& error() const { return error_; }

  /// New sampling result or trail density: rebuilds the trail buffers.
  void set_sample(std::shared_ptr<const SampleView> s, int trail_every);
  void set_data(const Points& data);
  void set_evaluation(std::shared_ptr<const EvalResult> e) { data_.set_evaluation(std::move(e)); }
  /// New overlay result (score arrows, density heatmap): uploads it.
  void set_overlay(std::shared_ptr<const OverlayResult> o);
  /// The world rectangle currently visible.
  GridWindow world_window() const;
  /// Fits the camera to the data (with a margin for the noise at Tmax).
  void fit(const Points& data);

  /// Renders at `size` pixels into the current ImGui window and handles the mouse.
  ViewportOutput draw(ImVec2 size, double t_now, const ViewportOptions& opt);

  /// The current picture as SVG text: the core scene (scene.hpp) at the current camera —
  /// data, the travelled part of each drawn trail, particles at t — with `legend` lines in
  /// the top left. No overlays, no hover.
  std::string svg(double t_now, const ViewportOptions& opt, const std::vector<std::string>& legend = {}) const;

  /// The last rendered image, RGBA8 rows top to bottom.
  std::vector<uint8_t> capture(int& w, int& h) const;
  /// Number of times the GL scene was actually re-rendered (it is cached between changes).
  uint64_t renders() const { return renders_; }

  Camera camera;

 private:
  void apply_fit();
  void render(double t_now, const ViewportOptions& opt);
  ViewTransform transform() const;
  void handle_mouse(ImVec2 origin, ImVec2 size, const ViewportOptions& opt, ViewportOutput& out);
  ImVec2 to_screen(double x, double y, ImVec2 origin, ImVec2 size) const;

  std::string error_;
  bool ready_ = false;
  // The layers, bottom to top, and what they share: the colormap texture, the target.
  DensityLayer density_;
  DataLayer data_;
  TrailLayer trails_;
  ArrowLayer arrows_;
  ParticleLayer particles_;
  LineLayer axes_, highlight_;
  GlTexture colormaps_;
  RenderTarget target_;

  std::shared_ptr<const SampleView> sample_;        // keeps the layers' sample alive
  std::shared_ptr<const OverlayResult> overlay_;
  uint64_t overlay_version_ = 0;
  int trail_every_ = 0;
  int hovered_particle_ = -1;
  int hovered_eval_ = -1;
  bool mouse_moved_ = false;
  Eigen::Vector2d fit_lo_ = Eigen::Vector2d::Zero(), fit_hi_ = Eigen::Vector2d::Zero();
  bool fit_pending_ = false;   // re-fit once the viewport's size (aspect) is known

  // Everything the rendered image depends on; the scene is re-rendered only when it changes.
  struct RenderKey {
    const void* sample = nullptr;
    double t = 0, cx = 0, cy = 0, half_height = 0;
    int w = 0, h = 0, hovered = -1;
    uint64_t data_version = 0, trail_version = 0, overlay_version = 0;
    bool particles = false, trails = false, data = false, score = false, density = false;
    int color = 0;
    float size = 0, alpha = 0;
    bool operator==(const RenderKey&) const = default;
  };
  RenderKey rendered_key_;
  uint64_t renders_ = 0;
  float paint_accum_ = 0.0f;
  uint64_t paint_counter_ = 0;
};

}  // namespace diffpath::gui
