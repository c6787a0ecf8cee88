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
  float trail_alpha = 0.35f;
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
  /// Fits the camera to the data (with a margin for the noise at Tmax).
  void fit(const Points& data);

  /// Renders at `size` pixels into the current ImGui window and handles the mouse.
  ViewportOutput draw(ImVec2 size, double t_now, const ViewportOptions& opt);

  /// The last rendered image, RGBA8 rows top to bottom.
  std::vector<uint8_t> capture(int& w, int& h) const;
  /// Number of particles drawn in the last frame.
  int drawn_particles() const { return int(particles_now_.size() / 2); }

  Camera camera;

 private:
  void upload_particles(double t_now);
  void render(double t_now, const ViewportOptions& opt);
  void set_view_uniforms(GLuint prog) const;
  void handle_mouse(ImVec2 origin, ImVec2 size, const ViewportOptions& opt, ViewportOutput& out);
  ImVec2 to_screen(double x, double y, ImVec2 origin, ImVec2 size) const;

  std::string error_;
  bool ready_ = false;
  GLuint prog_particles_ = 0, prog_trails_ = 0, prog_lines_ = 0;
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
  std::vector<float> particles_now_;   // interpolated positions at t_now (x, y, ...)
  double uploaded_t_ = NAN;
  const SampleView* uploaded_for_ = nullptr;
  int hovered_particle_ = -1;
  int hovered_eval_ = -1;
  float paint_accum_ = 0.0f;
  uint64_t paint_counter_ = 0;
};

}  // namespace diffpath::gui
