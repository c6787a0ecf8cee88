#pragma once
// The OpenGL viewport: particles at the current time t, trails of every k-th trajectory
// (coloured by time or by action), the data overlay, pan/zoom, hover, and painting points.
// Draws with our shaders into an off-screen target shown as an ImGui image. No numerics: it
// only interpolates between recorded frames.
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
  bool show_density = false;   // PF-ODE log-density heatmap log q_t
  float density_alpha = 0.6f;
  bool paint = false;     // left-drag paints data points instead of panning
  float brush = 0.08f;    // world-space spread of painted points
};

struct ViewportOutput {
  Points painted = Points(2, 0);   // points painted this frame (paint mode)
  bool hovered = false;            // mouse over the viewport
};

class Viewport {
 public:
  Viewport() = default;
  ~Viewport();
  Viewport(const Viewport&) = delete;
  Viewport& operator=(const Viewport&) = delete;

  /// Compiles the shaders. false: error() says why (the window then shows the message).
  bool init();
  const std::string& error() const { return error_; }

  /// New sampling result or trail density: rebuilds the trail buffers.
  void set_sample(std::shared_ptr<const SampleView> s, int trail_every);
  void set_data(const Points& data);
  void set_evaluation(std::shared_ptr<const EvalResult> e) { eval_ = std::move(e); }
  /// New overlay result (score arrows, density heatmap): uploads it.
  void set_overlay(std::shared_ptr<const OverlayResult> o);
  /// The world rectangle currently visible.
  GridWindow world_window() const;
  /// Fits the camera to the data (with a margin for the noise at Tmax).
  void fit(const Points& data);

  /// Renders at `size` pixels into the current ImGui window and handles the mouse.
  ViewportOutput draw(ImVec2 size, double t_now, const ViewportOptions& opt);

  /// The current picture as SVG text (what render() draws, at the current camera): data as
  /// small circles, the travelled part of each drawn trail as polylines (split into time bins
  /// for the time colouring), particles at t as circles, the hovered path. No overlays.
  std::string svg(double t_now, const ViewportOptions& opt) const;

  /// The last rendered image, RGBA8 rows top to bottom.
  std::vector<uint8_t> capture(int& w, int& h) const;
  /// Number of times the GL scene was actually re-rendered (it is cached between changes).
  uint64_t renders() const { return renders_; }

  Camera camera;

 private:
  void upload_particles(double t_now);
  void apply_fit();
  void render(double t_now, const ViewportOptions& opt);
  void set_view_uniforms(GLuint prog) const;
  void handle_mouse(ImVec2 origin, ImVec2 size, const ViewportOptions& opt, ViewportOutput& out);
  ImVec2 to_screen(double x, double y, ImVec2 origin, ImVec2 size) const;

  std::string error_;
  bool ready_ = false;
  GLuint prog_particles_ = 0, prog_trails_ = 0, prog_lines_ = 0, prog_density_ = 0;
  GLuint vao_density_ = 0, vbo_density_ = 0, tex_density_ = 0;
  GLuint vao_arrows_ = 0, vbo_arrows_ = 0;
  std::shared_ptr<const OverlayResult> overlay_;
  GLsizei arrow_vertices_ = 0;
  bool density_ready_ = false;
  uint64_t overlay_version_ = 0;
  GLuint vao_particles_ = 0, vbo_particles_ = 0;
  GLuint vao_data_ = 0, vbo_data_ = 0;
  GLuint vao_trails_ = 0, vbo_trails_ = 0;
  GLuint vao_lines_ = 0, vbo_lines_ = 0;
  RenderTarget target_;

  std::shared_ptr<const SampleView> sample_;
  std::shared_ptr<const EvalResult> eval_;
  int trail_every_ = 0;
  std::vector<GLint> trail_first_;
  std::vector<GLsizei> trail_count_;
  int data_count_ = 0;
  Points data_points_ = Points(2, 0);   // the data overlay, for svg()
  std::vector<float> particles_now_;   // interpolated positions at t_now (x, y, ...)
  double uploaded_t_ = NAN;
  const SampleView* uploaded_for_ = nullptr;
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
  uint64_t data_version_ = 0, trail_version_ = 0, renders_ = 0;
  float paint_accum_ = 0.0f;
  uint64_t paint_counter_ = 0;
};

}  // namespace diffpath::gui
