#include "viewport.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "colormap.hpp"
#include "diffpath/rng.hpp"

namespace diffpath::gui {

bool Viewport::init() {
  if (!density_.init(error_) || !data_.init(error_) || !trails_.init(error_) || !arrows_.init(error_) ||
      !particles_.init(error_) || !axes_.init(error_) || !highlight_.init(error_))
    return false;
  colormaps_ = make_colormap_texture();
  // Axes through the origin: a faint reference for pan/zoom.
  const float L = 1e4f, c = 0.22f;
  axes_.upload({-L, 0, c, c, c, 1, L, 0, c, c, c, 1, 0, -L, c, c, c, 1, 0, L, c, c, c, 1});
  ready_ = true;
  return true;
}

void Viewport::set_data(const Points& data) {
  if (ready_) data_.upload(data);
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
  hovered_particle_ = -1;
  trails_.upload(sample_.get(), trail_every_);
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
  density_.upload(overlay_.get());
  arrows_.upload(overlay_.get());
}

ViewTransform Viewport::transform() const {
  ViewTransform vt;
  const double aspect = double(target_.width) / std::max(1, target_.height);
  const double sy = 1.0 / camera.half_height, sx = sy / aspect;
  vt.scale[0] = float(sx);
  vt.scale[1] = float(sy);
  vt.offset[0] = float(-camera.cx * sx);
  vt.offset[1] = float(-camera.cy * sy);
  return vt;
}

void Viewport::render(double t_now, const ViewportOptions& opt) {
  target_.bind_for_drawing();
  glClearColor(kSceneBackground[0], kSceneBackground[1], kSceneBackground[2], kSceneBackground[3]);
  glClear(GL_COLOR_BUFFER_BIT);
  glEnable(GL_BLEND);
  // Colour blends as usual; destination alpha stays 1 so the image is opaque when ImGui
  // composites it and when it is exported.
  glBlendFuncSeparate(GL_SRC_ALPHA, GL_ONE_MINUS_SRC_ALPHA, GL_ONE, GL_ONE_MINUS_SRC_ALPHA);
  glEnable(GL_PROGRAM_POINT_SIZE);
  glEnable(GL_MULTISAMPLE);
  const ViewTransform vt = transform();
  axes_.draw(vt, GL_LINES);
  if (opt.show_density) density_.draw(vt, colormaps_, opt.density_alpha);
  if (opt.show_data) data_.draw(vt, opt.particle_size);
  if (opt.show_trails) trails_.draw(vt, colormaps_, t_now, opt.trail_color, opt.trail_alpha);
  if (opt.show_score) arrows_.draw(vt);
  if (opt.show_particles) particles_.draw(vt, opt.particle_size);
  // The hovered particle's whole path, white.
  if (hovered_particle_ >= 0) {
    highlight_.upload(trails_.path_of(hovered_particle_), true);
    highlight_.draw(vt, GL_LINE_STRIP);
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
  hovered_particle_ = particles_.hover(mx, my, 8.0 / k);
  if (hovered_particle_ < 0 && opt.show_data) hovered_eval_ = data_.hover(mx, my, 6.0 / k);
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
    const auto& ev = data_.evaluation();
    const auto& p = ev->summary.points[size_t(hovered_eval_)];
    ImGui::BeginTooltip();
    ImGui::Text("data point (%.3f, %.3f)", ev->x0(0, hovered_eval_), ev->x0(1, hovered_eval_));
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
  particles_.upload(sample_.get(), t_now);
  // Hover is decided on the positions of this frame, before rendering, so the highlighted
  // path is drawn in the same frame.
  ImGui::InvisibleButton("##viewport", ImVec2(float(w), float(h)),
                         ImGuiButtonFlags_MouseButtonLeft | ImGuiButtonFlags_MouseButtonRight |
                             ImGuiButtonFlags_MouseButtonMiddle);
  handle_mouse(origin, ImVec2(float(w), float(h)), opt, out);
  // Re-render only when something visible changed: with a software GL driver the MSAA pass
  // is the most expensive thing the GUI thread asks for, and most frames change nothing.
  const RenderKey key{sample_.get(), t_now, camera.cx, camera.cy, camera.half_height, w, h,
                      hovered_particle_, data_.version(), trails_.version(), overlay_version_,
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
  if (const auto& ev = data_.evaluation(); hovered_eval_ >= 0 && ev) {
    const ImVec2 p = to_screen(ev->x0(0, hovered_eval_), ev->x0(1, hovered_eval_), origin,
                               ImVec2(float(w), float(h)));
    dl->AddCircle(p, 6.0f, IM_COL32(255, 255, 255, 220), 16, 1.5f);
  }
  if (const auto& xy = particles_.positions(); hovered_particle_ >= 0 && hovered_particle_ * 2 + 1 < int(xy.size())) {
    const ImVec2 p = to_screen(xy[2 * size_t(hovered_particle_)], xy[2 * size_t(hovered_particle_) + 1], origin,
                               ImVec2(float(w), float(h)));
    dl->AddCircle(p, 6.0f, IM_COL32(255, 255, 255, 230), 16, 2.0f);
  }
  return out;
}

SceneStyle scene_style(const ViewportOptions& opt, int trail_every) {
  SceneStyle st;
  st.data = opt.show_data;
  st.trails = opt.show_trails;
  st.particles = opt.show_particles;
  st.trail_color = opt.trail_color;
  st.particle_size = opt.particle_size;
  st.trail_alpha = opt.trail_alpha;
  st.trail_every = std::max(1, trail_every);
  return st;
}

std::string Viewport::svg(double t_now, const ViewportOptions& opt, const std::vector<std::string>& legend) const {
  const std::vector<float>& xy = particles_.positions();
  Points particles(2, Eigen::Index(xy.size() / 2));
  for (Eigen::Index i = 0; i < particles.cols(); ++i) particles.col(i) << xy[size_t(2 * i)], xy[size_t(2 * i + 1)];
  Scene scene;
  scene.data = &data_.points();
  scene.particles = &particles;
  if (sample_) {
    scene.paths = &sample_->result;
    scene.t_min = sample_->schedule.t_min;
    scene.t_max = sample_->schedule.t_max;
    scene.action_lo = sample_->action_lo;
    scene.action_hi = sample_->action_hi;
  }
  scene.t = t_now;
  scene.legend = legend;
  scene.camera = {camera.cx, camera.cy, camera.half_height, std::max(16, target_.width), std::max(16, target_.height)};
  scene.style = scene_style(opt, trail_every_);
  return render_scene_svg(scene);
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
