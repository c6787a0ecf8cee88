#include "viewport.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cmath>

#include "diffpath/rng.hpp"

namespace diffpath::gui {
namespace {

// Palette: a dark, neutral background so both the viridis trails and the orange particles
// stand out; data in a light slate so it reads as "reference", not "result".
constexpr float kBackground[4] = {0.075f, 0.082f, 0.102f, 1.0f};
constexpr float kParticle[4] = {1.0f, 0.62f, 0.11f, 0.9f};
constexpr float kData[4] = {0.55f, 0.80f, 1.0f, 0.55f};

// Index f of the frame interval [times[f], times[f+1]] (times decreasing) containing t, and
// the interpolation weight w of frame f+1.
void locate(const std::vector<double>& times, double t, size_t& f, double& w) {
  const size_t n = times.size();
  if (n < 2 || t >= times.front()) {
    f = 0;
    w = 0.0;
    return;
  }
  if (t <= times.back()) {
    f = n - 2;
    w = 1.0;
    return;
  }
  // First index whose time is < t (times are strictly decreasing).
  auto it = std::upper_bound(times.begin(), times.end(), t, [](double a, double b) { return a > b; });
  const size_t hi = size_t(it - times.begin());
  f = hi - 1;
  const double t0 = times[f], t1 = times[hi];
  w = (t0 - t) / (t0 - t1);
}

GLuint make_vao(GLuint& vbo) {
  GLuint vao = 0;
  glGenVertexArrays(1, &vao);
  glGenBuffers(1, &vbo);
  return vao;
}

}  // namespace

Viewport::~Viewport() {
  // GL objects die with the context; main destroys the viewport while it is still current.
  if (!ready_) return;
  GLuint vaos[] = {vao_particles_, vao_data_, vao_trails_, vao_lines_, vao_density_, vao_arrows_};
  GLuint vbos[] = {vbo_particles_, vbo_data_, vbo_trails_, vbo_lines_, vbo_density_, vbo_arrows_};
  glDeleteVertexArrays(6, vaos);
  glDeleteBuffers(6, vbos);
  if (tex_density_) glDeleteTextures(1, &tex_density_);
  glDeleteProgram(prog_density_);
  glDeleteProgram(prog_particles_);
  glDeleteProgram(prog_trails_);
  glDeleteProgram(prog_lines_);
  target_.release();
}

bool Viewport::init() {
  prog_particles_ = load_program("particles", error_);
  if (prog_particles_) prog_trails_ = load_program("trails", error_);
  if (prog_trails_) prog_lines_ = load_program("lines", error_);
  if (prog_lines_) prog_density_ = load_program("density", error_);
  if (!prog_density_) return false;

  vao_particles_ = make_vao(vbo_particles_);
  vao_data_ = make_vao(vbo_data_);
  for (auto [vao, vbo] : {std::pair{vao_particles_, vbo_particles_}, std::pair{vao_data_, vbo_data_}}) {
    glBindVertexArray(vao);
    glBindBuffer(GL_ARRAY_BUFFER, vbo);
    glEnableVertexAttribArray(0);
    glVertexAttribPointer(0, 2, GL_FLOAT, GL_FALSE, 2 * sizeof(float), nullptr);
  }
  vao_trails_ = make_vao(vbo_trails_);
  glBindVertexArray(vao_trails_);
  glBindBuffer(GL_ARRAY_BUFFER, vbo_trails_);
  for (int a = 0; a < 3; ++a) glEnableVertexAttribArray(a);
  glVertexAttribPointer(0, 2, GL_FLOAT, GL_FALSE, 4 * sizeof(float), nullptr);
  glVertexAttribPointer(1, 1, GL_FLOAT, GL_FALSE, 4 * sizeof(float), (void*)(2 * sizeof(float)));
  glVertexAttribPointer(2, 1, GL_FLOAT, GL_FALSE, 4 * sizeof(float), (void*)(3 * sizeof(float)));
  vao_lines_ = make_vao(vbo_lines_);
  glBindVertexArray(vao_lines_);
  glBindBuffer(GL_ARRAY_BUFFER, vbo_lines_);
  glEnableVertexAttribArray(0);
  glEnableVertexAttribArray(1);
  glVertexAttribPointer(0, 2, GL_FLOAT, GL_FALSE, 6 * sizeof(float), nullptr);
  glVertexAttribPointer(1, 4, GL_FLOAT, GL_FALSE, 6 * sizeof(float), (void*)(2 * sizeof(float)));
  vao_arrows_ = make_vao(vbo_arrows_);
  glBindVertexArray(vao_arrows_);
  glBindBuffer(GL_ARRAY_BUFFER, vbo_arrows_);
  glEnableVertexAttribArray(0);
  glEnableVertexAttribArray(1);
  glVertexAttribPointer(0, 2, GL_FLOAT, GL_FALSE, 6 * sizeof(float), nullptr);
  glVertexAttribPointer(1, 4, GL_FLOAT, GL_FALSE, 6 * sizeof(float), (void*)(2 * sizeof(float)));
  vao_density_ = make_vao(vbo_density_);
  glBindVertexArray(vao_density_);
  glBindBuffer(GL_ARRAY_BUFFER, vbo_density_);
  glEnableVertexAttribArray(0);
  glEnableVertexAttribArray(1);
  glVertexAttribPointer(0, 2, GL_FLOAT, GL_FALSE, 4 * sizeof(float), nullptr);
  glVertexAttribPointer(1, 2, GL_FLOAT, GL_FALSE, 4 * sizeof(float), (void*)(2 * sizeof(float)));
  glGenTextures(1, &tex_density_);
  glBindTexture(GL_TEXTURE_2D, tex_density_);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
  glBindVertexArray(0);
  ready_ = true;
  return true;
}

void Viewport::set_data(const Points& data) {
  if (!ready_) return;
  std::vector<float> v(size_t(data.cols()) * 2);
  for (int i = 0; i < data.cols(); ++i) {
    v[2 * i] = float(data(0, i));
    v[2 * i + 1] = float(data(1, i));
  }
  glBindBuffer(GL_ARRAY_BUFFER, vbo_data_);
  glBufferData(GL_ARRAY_BUFFER, GLsizeiptr(v.size() * sizeof(float)), v.data(), GL_STATIC_DRAW);
  data_count_ = int(data.cols());
  data_points_ = data;
  ++data_version_;
}

void Viewport::fit(const Points& data) {
  if (data.cols() == 0) return;
  fit_lo_ = data.rowwise().minCoeff();
  fit_hi_ = data.rowwise().maxCoeff();
  fit_pending_ = true;
  apply_fit();
}

void Viewport::apply_fit() {
  const Eigen::Vector2d lo = fit_lo_, hi = fit_hi_;
  camera.cx = 0.5 * (lo.x() + hi.x());
  camera.cy = 0.5 * (lo.y() + hi.y());
  // Both extents must fit: the width through the viewport's aspect (a portrait viewport is
  // the usual case). The prior N(0, I) at Tmax spans ±2.5: keep most of it in view too.
  const double aspect = target_.height > 0 ? double(target_.width) / target_.height : 0.75;
  camera.half_height = std::max({0.58 * (hi.y() - lo.y()), 0.58 * (hi.x() - lo.x()) / aspect, 2.2});
}

void Viewport::set_sample(std::shared_ptr<const SampleView> s, int trail_every) {
  if (!ready_ || (s == sample_ && trail_every == trail_every_)) return;
  sample_ = std::move(s);
  trail_every_ = std::max(1, trail_every);
  uploaded_for_ = nullptr;
  hovered_particle_ = -1;
  trail_first_.clear();
  trail_count_.clear();
  if (!sample_ || sample_->result.frames.size() < 2) return;
  const auto& frames = sample_->result.frames;
  const auto& times = sample_->result.frame_times;
  const auto& action = sample_->result.action;
  const int n = int(frames.front().cols());
  const int nf = int(frames.size());
  const double lo = sample_->action_lo, span = sample_->action_hi - sample_->action_lo;
  std::vector<float> v;
  v.reserve(size_t(n / trail_every_ + 1) * nf * 4);
  for (int p = 0; p < n; p += trail_every_) {
    const float a = action.size() == n ? float(std::clamp((action[p] - lo) / span, 0.0, 1.0)) : 0.5f;
    trail_first_.push_back(GLint(v.size() / 4));
    for (int f = 0; f < nf; ++f) {
      v.push_back(float(frames[f](0, p)));
      v.push_back(float(frames[f](1, p)));
      v.push_back(float(times[f]));
      v.push_back(a);
    }
    trail_count_.push_back(nf);
  }
  glBindBuffer(GL_ARRAY_BUFFER, vbo_trails_);
  glBufferData(GL_ARRAY_BUFFER, GLsizeiptr(v.size() * sizeof(float)), v.data(), GL_STATIC_DRAW);
  ++trail_version_;
}

GridWindow Viewport::world_window() const {
  const double aspect = double(std::max(1, target_.width)) / std::max(1, target_.height);
  const double hw = camera.half_height * aspect;
  return {camera.cx - hw, camera.cx + hw, camera.cy - camera.half_height, camera.cy + camera.half_height};
}

void Viewport::set_overlay(std::shared_ptr<const OverlayResult> o) {
  if (!ready_ || o == overlay_) return;
  overlay_ = std::move(o);
  ++overlay_version_;
  density_ready_ = false;
  arrow_vertices_ = 0;
  if (!overlay_) return;
  const OverlayResult& r = *overlay_;
  // Heatmap: normalised to [0, 1] over [lo, hi] on the CPU (failed points: 0), one float
  // channel; the quad spans the grid's outer cell edges.
  if (r.nx > 0 && r.ny > 0 && r.log_density.size() == size_t(r.nx) * r.ny) {
    std::vector<float> v(r.log_density.size());
    const double span = std::max(1e-9, r.hi - r.lo);
    for (size_t k = 0; k < v.size(); ++k)
      v[k] = std::isfinite(r.log_density[k]) ? float(std::clamp((r.log_density[k] - r.lo) / span, 0.0, 1.0)) : 0.0f;
    glBindTexture(GL_TEXTURE_2D, tex_density_);
    glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
    glTexImage2D(GL_TEXTURE_2D, 0, GL_R32F, r.nx, r.ny, 0, GL_RED, GL_FLOAT, v.data());
    const GridWindow& w = r.window;
    const float quad[] = {float(w.x0), float(w.y0), 0, 0, float(w.x1), float(w.y0), 1, 0,
                          float(w.x0), float(w.y1), 0, 1, float(w.x1), float(w.y1), 1, 1};
    glBindBuffer(GL_ARRAY_BUFFER, vbo_density_);
    glBufferData(GL_ARRAY_BUFFER, sizeof quad, quad, GL_STATIC_DRAW);
    density_ready_ = true;
  }
  // Arrows: length ∝ |s| up to 0.45 cells (saturating at the 90th percentile), with a head.
  if (!r.arrows.empty()) {
    const size_t n = r.arrows.size() / 4;
    const int nx = std::max(1, r.score_nx), ny = std::max(1, r.score_ny);
    const double cell = std::min((r.window.x1 - r.window.x0) / nx, (r.window.y1 - r.window.y0) / ny);
    std::vector<float> v;
    v.reserve(n * 6 * 6);
    auto vertex = [&](double x, double y, float a) {
      const float p[] = {float(x), float(y), 0.80f, 0.93f, 1.0f, a};
      v.insert(v.end(), p, p + 6);
    };
    for (size_t k = 0; k < n; ++k) {
      const double x = r.arrows[4 * k], y = r.arrows[4 * k + 1];
      const double sx = r.arrows[4 * k + 2], sy = r.arrows[4 * k + 3];
      const double m = std::hypot(sx, sy);
      if (!std::isfinite(m) || m <= 0) continue;
      const double frac = std::min(1.0, m / r.score_ref);
      const double len = 0.45 * cell * std::max(0.15, frac);
      const double ux = sx / m, uy = sy / m;
      const double ex = x + ux * len, ey = y + uy * len;
      const float a = float(0.35 + 0.5 * frac);
      vertex(x, y, a);
      vertex(ex, ey, a);
      for (double side : {-1.0, 1.0}) {  // head: two strokes at ±28° back from the tip
        const double c = std::cos(0.49), s = side * std::sin(0.49), h = 0.35 * len;
        vertex(ex, ey, a);
        vertex(ex - h * (c * ux - s * uy), ey - h * (s * ux + c * uy), a);
      }
    }
    glBindBuffer(GL_ARRAY_BUFFER, vbo_arrows_);
    glBufferData(GL_ARRAY_BUFFER, GLsizeiptr(v.size() * sizeof(float)), v.data(), GL_STATIC_DRAW);
    arrow_vertices_ = GLsizei(v.size() / 6);
  }
}

void Viewport::upload_particles(double t_now) {
  if (!sample_ || (uploaded_for_ == sample_.get() && uploaded_t_ == t_now)) return;
  const auto& r = sample_->result;
  const int n = int(r.samples.cols());
  particles_now_.resize(size_t(n) * 2);
  if (r.frames.size() >= 2) {
    size_t f;
    double w;
    locate(r.frame_times, t_now, f, w);
    const Points& a = r.frames[f];
    const Points& b = r.frames[f + 1];
    for (int i = 0; i < n; ++i) {
      particles_now_[2 * i] = float((1 - w) * a(0, i) + w * b(0, i));
      particles_now_[2 * i + 1] = float((1 - w) * a(1, i) + w * b(1, i));
    }
  } else {
    for (int i = 0; i < n; ++i) {
      particles_now_[2 * i] = float(r.samples(0, i));
      particles_now_[2 * i + 1] = float(r.samples(1, i));
    }
  }
  glBindBuffer(GL_ARRAY_BUFFER, vbo_particles_);
  glBufferData(GL_ARRAY_BUFFER, GLsizeiptr(particles_now_.size() * sizeof(float)),
               particles_now_.data(), GL_STREAM_DRAW);
  uploaded_for_ = sample_.get();
  uploaded_t_ = t_now;
}

void Viewport::set_view_uniforms(GLuint prog) const {
  const double aspect = double(target_.width) / std::max(1, target_.height);
  const double sy = 1.0 / camera.half_height, sx = sy / aspect;
  glUniform2f(glGetUniformLocation(prog, "u_scale"), float(sx), float(sy));
  glUniform2f(glGetUniformLocation(prog, "u_offset"), float(-camera.cx * sx), float(-camera.cy * sy));
}

void Viewport::render(double t_now, const ViewportOptions& opt) {
  target_.bind_for_drawing();
  glClearColor(kBackground[0], kBackground[1], kBackground[2], kBackground[3]);
  glClear(GL_COLOR_BUFFER_BIT);
  glEnable(GL_BLEND);
  // Colour blends as usual; destination alpha stays 1 so the image is opaque when ImGui
  // composites it and when it is exported.
  glBlendFuncSeparate(GL_SRC_ALPHA, GL_ONE_MINUS_SRC_ALPHA, GL_ONE, GL_ONE_MINUS_SRC_ALPHA);
  glEnable(GL_PROGRAM_POINT_SIZE);
  glEnable(GL_MULTISAMPLE);

  // Axes through the origin: a faint reference for pan/zoom.
  {
    const float L = 1e4f, c = 0.22f;
    const float axes[] = {-L, 0, c, c, c, 1, L, 0, c, c, c, 1, 0, -L, c, c, c, 1, 0, L, c, c, c, 1};
    glUseProgram(prog_lines_);
    set_view_uniforms(prog_lines_);
    glBindVertexArray(vao_lines_);
    glBindBuffer(GL_ARRAY_BUFFER, vbo_lines_);
    glBufferData(GL_ARRAY_BUFFER, sizeof axes, axes, GL_STREAM_DRAW);
    glDrawArrays(GL_LINES, 0, 4);
  }
  if (opt.show_density && density_ready_) {
    glUseProgram(prog_density_);
    set_view_uniforms(prog_density_);
    glActiveTexture(GL_TEXTURE0);
    glBindTexture(GL_TEXTURE_2D, tex_density_);
    glUniform1i(glGetUniformLocation(prog_density_, "u_field"), 0);
    glUniform1f(glGetUniformLocation(prog_density_, "u_alpha"), opt.density_alpha);
    glBindVertexArray(vao_density_);
    glDrawArrays(GL_TRIANGLE_STRIP, 0, 4);
  }
  if (opt.show_data && data_count_ > 0) {
    glUseProgram(prog_particles_);
    set_view_uniforms(prog_particles_);
    glUniform1f(glGetUniformLocation(prog_particles_, "u_size"), std::max(2.0f, opt.particle_size - 0.5f));
    glUniform4fv(glGetUniformLocation(prog_particles_, "u_color"), 1, kData);
    glBindVertexArray(vao_data_);
    glDrawArrays(GL_POINTS, 0, data_count_);
  }
  if (opt.show_trails && sample_ && !trail_first_.empty()) {
    glUseProgram(prog_trails_);
    set_view_uniforms(prog_trails_);
    glUniform1f(glGetUniformLocation(prog_trails_, "u_t_now"), float(t_now));
    glUniform1f(glGetUniformLocation(prog_trails_, "u_t_min"), float(sample_->schedule.t_min));
    glUniform1f(glGetUniformLocation(prog_trails_, "u_t_max"), float(sample_->schedule.t_max));
    glUniform1i(glGetUniformLocation(prog_trails_, "u_mode"), opt.trail_color == TrailColor::Time ? 0 : 1);
    glUniform1f(glGetUniformLocation(prog_trails_, "u_alpha"), opt.trail_alpha);
    glBindVertexArray(vao_trails_);
    glMultiDrawArrays(GL_LINE_STRIP, trail_first_.data(), trail_count_.data(), GLsizei(trail_first_.size()));
  }
  if (opt.show_score && arrow_vertices_ > 0) {
    glUseProgram(prog_lines_);
    set_view_uniforms(prog_lines_);
    glBindVertexArray(vao_arrows_);
    glDrawArrays(GL_LINES, 0, arrow_vertices_);
  }
  if (opt.show_particles && sample_) {
    upload_particles(t_now);
    glUseProgram(prog_particles_);
    set_view_uniforms(prog_particles_);
    glUniform1f(glGetUniformLocation(prog_particles_, "u_size"), opt.particle_size);
    glUniform4fv(glGetUniformLocation(prog_particles_, "u_color"), 1, kParticle);
    glBindVertexArray(vao_particles_);
    glDrawArrays(GL_POINTS, 0, GLsizei(particles_now_.size() / 2));
  }
  // The hovered particle's whole path, white, and the particle itself enlarged.
  if (sample_ && hovered_particle_ >= 0 && hovered_particle_ < sample_->particles()) {
    const auto& frames = sample_->result.frames;
    std::vector<float> v;
    for (const Points& f : frames) {
      const float p[] = {float(f(0, hovered_particle_)), float(f(1, hovered_particle_)), 1, 1, 1, 0.95f};
      v.insert(v.end(), p, p + 6);
    }
    glUseProgram(prog_lines_);
    set_view_uniforms(prog_lines_);
    glBindVertexArray(vao_lines_);
    glBindBuffer(GL_ARRAY_BUFFER, vbo_lines_);
    glBufferData(GL_ARRAY_BUFFER, GLsizeiptr(v.size() * sizeof(float)), v.data(), GL_STREAM_DRAW);
    glDrawArrays(GL_LINE_STRIP, 0, GLsizei(v.size() / 6));
  }
  glBindVertexArray(0);
  glUseProgram(0);
  target_.resolve();
}

ImVec2 Viewport::to_screen(double x, double y, ImVec2 origin, ImVec2 size) const {
  const double k = size.y / (2.0 * camera.half_height);
  return ImVec2(float(origin.x + size.x * 0.5 + (x - camera.cx) * k),
                float(origin.y + size.y * 0.5 - (y - camera.cy) * k));
}

void Viewport::handle_mouse(ImVec2 origin, ImVec2 size, const ViewportOptions& opt,
                            ViewportOutput& out) {
  ImGuiIO& io = ImGui::GetIO();
  out.hovered = ImGui::IsItemHovered();
  hovered_particle_ = -1;
  hovered_eval_ = -1;
  if (!out.hovered) return;
  // A pointer that never moved (e.g. parked by Xvfb in a scripted run) does not hover.
  if (io.MouseDelta.x != 0.0f || io.MouseDelta.y != 0.0f || io.MouseWheel != 0.0f) mouse_moved_ = true;
  if (!mouse_moved_) return;
  const double k = size.y / (2.0 * camera.half_height);  // pixels per world unit
  const double mx = camera.cx + (io.MousePos.x - origin.x - size.x * 0.5) / k;
  const double my = camera.cy - (io.MousePos.y - origin.y - size.y * 0.5) / k;

  // Zoom about the cursor: the world point under the mouse stays put.
  if (io.MouseWheel != 0.0f) {
    const double factor = std::pow(0.88, io.MouseWheel);
    camera.cx = mx + (camera.cx - mx) * factor;
    camera.cy = my + (camera.cy - my) * factor;
    camera.half_height = std::clamp(camera.half_height * factor, 0.05, 50.0);
  }
  const bool pan_button = opt.paint ? ImGui::IsMouseDragging(ImGuiMouseButton_Right, 0.0f) ||
                                          ImGui::IsMouseDragging(ImGuiMouseButton_Middle, 0.0f)
                                    : ImGui::IsMouseDragging(ImGuiMouseButton_Left, 0.0f) ||
                                          ImGui::IsMouseDragging(ImGuiMouseButton_Right, 0.0f) ||
                                          ImGui::IsMouseDragging(ImGuiMouseButton_Middle, 0.0f);
  if (pan_button) {
    camera.cx -= io.MouseDelta.x / k;
    camera.cy += io.MouseDelta.y / k;
  }
  if (opt.paint && ImGui::IsMouseDown(ImGuiMouseButton_Left)) {
    // A spray brush: ~40 points per second of dragging, Gaussian around the cursor.
    paint_accum_ += io.DeltaTime * 40.0f + (ImGui::IsMouseClicked(ImGuiMouseButton_Left) ? 1.0f : 0.0f);
    const int count = int(paint_accum_);
    paint_accum_ -= float(count);
    if (count > 0) {
      Rng rng(stream_seed(0x9a1e7ULL, paint_counter_++));
      out.painted.resize(2, count);
      for (int i = 0; i < count; ++i) {
        out.painted(0, i) = mx + opt.brush * rng.normal();
        out.painted(1, i) = my + opt.brush * rng.normal();
      }
    }
    return;
  }
  if (pan_button) return;

  // Hover: the nearest particle within 8 px; else the nearest evaluation point within 6 px.
  double best = 8.0 / k;
  for (size_t i = 0; i * 2 < particles_now_.size(); ++i) {
    const double d = std::hypot(particles_now_[2 * i] - mx, particles_now_[2 * i + 1] - my);
    if (d < best) {
      best = d;
      hovered_particle_ = int(i);
    }
  }
  if (hovered_particle_ < 0 && eval_ && opt.show_data) {
    best = 6.0 / k;
    for (int i = 0; i < eval_->x0.cols(); ++i) {
      const double d = std::hypot(eval_->x0(0, i) - mx, eval_->x0(1, i) - my);
      if (d < best) {
        best = d;
        hovered_eval_ = i;
      }
    }
  }
  if (hovered_particle_ >= 0 && sample_) {
    const int i = hovered_particle_;
    const auto& r = sample_->result;
    ImGui::BeginTooltip();
    ImGui::Text("particle %d", i);
    ImGui::Text("x(Tmin) = (%.3f, %.3f)", r.samples(0, i), r.samples(1, i));
    if (r.action.size() > i) {
      ImGui::Text("action Ã = %.4g", r.action[i]);
      if (sample_->eta > 0) ImGui::Text("Ã/η = %.4g", r.action[i] / sample_->eta);
    }
    ImGui::EndTooltip();
  } else if (hovered_eval_ >= 0) {
    const auto& p = eval_->summary.points[size_t(hovered_eval_)];
    ImGui::BeginTooltip();
    ImGui::Text("data point (%.3f, %.3f)", eval_->x0(0, hovered_eval_), eval_->x0(1, hovered_eval_));
    if (p.ok) {
      ImGui::Text("NLL = %.4f", p.nll);
      ImGui::Text("c(x0) = %.4f  (%s)", p.c, p.c > 0 ? "noise helps here" : "noise hurts here");
    } else {
      ImGui::Text("evaluation failed: %s", p.error.c_str());
    }
    ImGui::EndTooltip();
  }
}

ViewportOutput Viewport::draw(ImVec2 size, double t_now, const ViewportOptions& opt) {
  ViewportOutput out;
  if (!ready_) {
    ImGui::TextColored(ImVec4(1, 0.4f, 0.4f, 1), "viewport unavailable: %s", error_.c_str());
    return out;
  }
  const int w = std::max(16, int(size.x)), h = std::max(16, int(size.y));
  target_.resize(w, h);
  if (fit_pending_) {  // now that the aspect is known
    apply_fit();
    fit_pending_ = false;
  }
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  upload_particles(t_now);
  // Hover is decided on the positions of this frame, before rendering, so the highlighted
  // path is drawn in the same frame.
  ImGui::InvisibleButton("##viewport", ImVec2(float(w), float(h)),
                         ImGuiButtonFlags_MouseButtonLeft | ImGuiButtonFlags_MouseButtonRight |
                             ImGuiButtonFlags_MouseButtonMiddle);
  handle_mouse(origin, ImVec2(float(w), float(h)), opt, out);
  // Re-render only when something visible changed: with a software GL driver the MSAA pass
  // is the most expensive thing the GUI thread asks for, and most frames change nothing.
  const RenderKey key{sample_.get(), t_now, camera.cx, camera.cy, camera.half_height, w, h,
                      hovered_particle_, data_version_, trail_version_, overlay_version_,
                      opt.show_particles, opt.show_trails, opt.show_data, opt.show_score,
                      opt.show_density, int(opt.trail_color), opt.particle_size,
                      opt.trail_alpha};
  if (!(key == rendered_key_)) {
    render(t_now, opt);
    rendered_key_ = key;
    ++renders_;
  }
  ImDrawList* dl = ImGui::GetWindowDrawList();
  dl->AddImage((ImTextureID)(intptr_t)target_.color_tex, origin, ImVec2(origin.x + w, origin.y + h),
               ImVec2(0, 1), ImVec2(1, 0));
  if (hovered_eval_ >= 0 && eval_) {
    const ImVec2 p = to_screen(eval_->x0(0, hovered_eval_), eval_->x0(1, hovered_eval_), origin,
                               ImVec2(float(w), float(h)));
    dl->AddCircle(p, 6.0f, IM_COL32(255, 255, 255, 220), 16, 1.5f);
  }
  if (hovered_particle_ >= 0 && hovered_particle_ * 2 + 1 < int(particles_now_.size())) {
    const ImVec2 p = to_screen(particles_now_[2 * hovered_particle_],
                               particles_now_[2 * hovered_particle_ + 1], origin,
                               ImVec2(float(w), float(h)));
    dl->AddCircle(p, 6.0f, IM_COL32(255, 255, 255, 230), 16, 2.0f);
  }
  return out;
}

namespace {

// The shaders' colour maps (trails.frag), for the SVG export.
std::array<double, 3> viridis(double x) {
  x = std::clamp(x, 0.0, 1.0);
  static const double c[7][3] = {{0.2777, 0.0054, 0.3341},   {0.1051, 1.4046, 1.3846},
                                 {-0.3309, 0.2148, 0.0950},  {-4.6342, -5.7991, -19.3324},
                                 {6.2283, 14.1799, 56.6906}, {4.7764, -13.7451, -65.3530},
                                 {-5.4355, 4.6459, 26.3124}};
  std::array<double, 3> out{};
  for (int k = 0; k < 3; ++k) {
    double v = c[6][k];
    for (int i = 5; i >= 0; --i) v = c[i][k] + x * v;
    out[size_t(k)] = std::clamp(v, 0.0, 1.0);
  }
  return out;
}

std::array<double, 3> coolwarm(double x) {
  x = std::clamp(x, 0.0, 1.0);
  const double cold[3] = {0.23, 0.30, 0.75}, mid[3] = {0.87, 0.87, 0.87}, hot[3] = {0.71, 0.02, 0.15};
  std::array<double, 3> out{};
  for (int k = 0; k < 3; ++k)
    out[size_t(k)] = x < 0.5 ? cold[k] + (mid[k] - cold[k]) * 2 * x : mid[k] + (hot[k] - mid[k]) * (2 * x - 1);
  return out;
}

std::string rgb(const std::array<double, 3>& c) {
  char b[32];
  std::snprintf(b, sizeof b, "#%02x%02x%02x", int(255 * c[0] + 0.5), int(255 * c[1] + 0.5), int(255 * c[2] + 0.5));
  return b;
}

std::string rgb(const float* c) { return rgb({double(c[0]), double(c[1]), double(c[2])}); }

}  // namespace

std::string Viewport::svg(double t_now, const ViewportOptions& opt) const {
  const int w = std::max(16, target_.width), h = std::max(16, target_.height);
  const double k = h / (2.0 * camera.half_height);
  auto px = [&](double x, double y, std::string& out) {
    char b[48];
    std::snprintf(b, sizeof b, "%.1f,%.1f ", w * 0.5 + (x - camera.cx) * k, h * 0.5 - (y - camera.cy) * k);
    out += b;
  };
  auto circle = [&](double x, double y, double r, std::string& out) {
    char b[96];
    std::snprintf(b, sizeof b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.2f\"/>\n",
                  w * 0.5 + (x - camera.cx) * k, h * 0.5 - (y - camera.cy) * k, r);
    out += b;
  };
  std::string s;
  s.reserve(1 << 20);
  char head[256];
  std::snprintf(head, sizeof head,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n",
                w, h, w, h);
  s += head;
  s += "<rect width=\"100%\" height=\"100%\" fill=\"" + rgb(kBackground) + "\"/>\n";
  if (opt.show_data && data_points_.cols() > 0) {
    s += "<g fill=\"" + rgb(kData) + "\" fill-opacity=\"" + std::to_string(kData[3]) + "\">\n";
    for (int i = 0; i < data_points_.cols(); ++i)
      circle(data_points_(0, i), data_points_(1, i), 0.5 * std::max(2.0f, opt.particle_size - 0.5f), s);
    s += "</g>\n";
  }
  if (opt.show_trails && sample_ && sample_->result.frames.size() >= 2) {
    const auto& r = sample_->result;
    const auto& times = r.frame_times;
    const Schedule& sc = sample_->schedule;
    const int nf = int(r.frames.size()), n = sample_->particles();
    constexpr int kBins = 8;   // time colouring: each trail in 8 pieces of constant colour
    const double span = sample_->action_hi - sample_->action_lo;
    s += "<g fill=\"none\" stroke-width=\"1\" stroke-linejoin=\"round\">\n";
    for (int p = 0; p < n; p += trail_every_) {
      const double a = r.action.size() == n ? (r.action[p] - sample_->action_lo) / span : 0.5;
      for (int b = 0; b < kBins; ++b) {
        const int f0 = b * (nf - 1) / kBins, f1 = (b + 1) * (nf - 1) / kBins;
        std::string pts;
        int count = 0;
        for (int f = f0; f <= f1; ++f) {
          if (times[size_t(f)] < t_now - 1e-9) break;  // not travelled yet
          px(r.frames[size_t(f)](0, p), r.frames[size_t(f)](1, p), pts);
          ++count;
        }
        if (count < 2) break;
        const double progress = (sc.t_max - 0.5 * (times[size_t(f0)] + times[size_t(f1)])) / (sc.t_max - sc.t_min);
        const auto color = opt.trail_color == TrailColor::Time ? viridis(progress) : coolwarm(a);
        char attr[96];
        std::snprintf(attr, sizeof attr, "\" stroke=\"%s\" stroke-opacity=\"%.3f\"/>\n", rgb(color).c_str(),
                      opt.trail_alpha * (0.3 + 0.7 * progress));
        s += "<polyline points=\"" + pts + attr;
      }
    }
    s += "</g>\n";
  }
  if (opt.show_particles && sample_) {
    s += "<g fill=\"" + rgb(kParticle) + "\" fill-opacity=\"" + std::to_string(kParticle[3]) + "\">\n";
    for (size_t i = 0; 2 * i + 1 < particles_now_.size(); ++i)
      circle(particles_now_[2 * i], particles_now_[2 * i + 1], 0.5 * opt.particle_size, s);
    s += "</g>\n";
  }
  s += "</svg>\n";
  return s;
}

std::vector<uint8_t> Viewport::capture(int& w, int& h) const {
  w = target_.width;
  h = target_.height;
  if (!target_.fbo) return {};
  // Blending leaves partial alpha in the target; what the user sees is the opaque composite.
  auto px = target_.read_rgba();
  for (size_t i = 3; i < px.size(); i += 4) px[i] = 255;
  return px;
}

}  // namespace diffpath::gui
