// The viewport's scene drawn by Cairo (scene.hpp): background, data, trails, particles, legend,
// back to front, on an image surface (pixels) or an SVG surface.
#include "diffpath/scene.hpp"

#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numbers>

#include "diffpath/stats.hpp"

namespace diffpath {

Color trail_color(TrailColor mode, double progress, double action_u, double alpha) {
  progress = std::clamp(progress, 0.0, 1.0);
  Color c = mode == TrailColor::Time ? colormap_color(Colormap::Viridis, progress)
                                     : colormap_color(Colormap::Diverging, action_u);
  c.a = alpha * (kTrailFade + (1.0 - kTrailFade) * progress);
  return c;
}

std::array<double, 2> action_color_range(const Vec& action) {
  std::vector<double> v;
  for (double x : action)
    if (std::isfinite(x)) v.push_back(x);
  if (v.empty()) return {0.0, 1.0};
  static constexpr double kQs[] = {0.02, 0.98};
  const std::vector<double> q = quantiles(v, kQs);
  return {q[0], q[1] > q[0] ? q[1] : q[0] + 1e-12};
}

SceneCamera fit_camera(double x0, double x1, double y0, double y1, int width, int height, int top) {
  SceneCamera c;
  c.width = width;
  c.height = height;
  top = std::clamp(top, 0, height / 2);
  const double below = std::max(1, height - top), aspect = double(std::max(1, width)) / below;
  const double half = std::max(0.5 * (y1 - y0), 0.5 * (x1 - x0) / aspect);  // of the band below
  const double k = half > 0 ? below / (2 * half) : 1.0;                       // pixels per unit
  c.half_height = 0.5 * height / k;
  c.cx = 0.5 * (x0 + x1);
  c.cy = 0.5 * (y0 + y1) + 0.5 * top / k;  // the band's centre sits top/2 below the image's
  return c;
}

namespace {

// The legend's text size and box padding, in pixels, for an image `height` pixels tall.
double legend_font(int height) { return std::clamp(height / 48.0, 10.0, 22.0); }

}  // namespace

int legend_height(int height, int lines) {
  if (lines <= 0) return 0;
  const double font = legend_font(height), pad = 0.5 * font;
  return int(std::ceil(2 * pad + lines * 1.3 * font + pad));
}

std::vector<std::string> scene_legend(const std::string& caption, double eta, double t) {
  char line[96];
  std::snprintf(line, sizeof line, "η = %.2f   t = %.3g", eta, t);
  return {caption, line};
}

namespace {

// World → pixel (origin top left, y up in the world).
struct Pixels {
  const SceneCamera& c;
  double k = c.height / (2.0 * c.half_height);
  double x(double wx) const { return c.width * 0.5 + (wx - c.cx) * k; }
  double y(double wy) const { return c.height * 0.5 - (wy - c.cy) * k; }
  bool inside(double px, double py, double margin) const {
    return px > -margin && py > -margin && px < c.width + margin && py < c.height + margin;
  }
  // Finite and within Cairo's fixed-point range with room: a diverged path (an untrained
  // network's) must not put the context into an error state.
  bool drawable(double px, double py) const { return inside(px, py, 1e5); }
};

void set_color(cairo_t* cr, const std::array<float, 4>& c) { cairo_set_source_rgba(cr, c[0], c[1], c[2], c[3]); }

// One fill per disc: Cairo's path for small fills beats one path of thousands of discs, and
// overlapping discs blend as the window's point sprites do (a single path would not).
void draw_discs(cairo_t* cr, const Pixels& px, const Points& p, double diameter,
                const std::array<float, 4>& color) {
  set_color(cr, color);
  const double r = 0.5 * diameter;
  for (Eigen::Index i = 0; i < p.cols(); ++i) {
    const double x = px.x(p(0, i)), y = px.y(p(1, i));
    if (!std::isfinite(x) || !std::isfinite(y) || !px.inside(x, y, r)) continue;
    cairo_arc(cr, x, y, r, 0, 2 * std::numbers::pi);
    cairo_fill(cr);
  }
}

// Every k-th particle's travelled path (recorded frames with time ≥ t, then on to its
// position at t, as the window's shader cuts the line), in kBins pieces of one colour each:
// time colouring changes along a trail, and separate strokes blend where trails cross.
void draw_trails(cairo_t* cr, const Pixels& px, const Scene& s) {
  const SampleResult& r = *s.paths;
  const size_t nf = r.frames.size();
  if (nf < 2 || r.frame_times.size() != nf) return;
  const Eigen::Index n = r.frames.front().cols();
  const bool ends_at_particle = s.particles && s.particles->cols() == n;
  const double span = s.action_hi - s.action_lo, tspan = std::max(1e-12, s.t_max - s.t_min);
  constexpr int kBins = 8;
  cairo_set_line_width(cr, 1.0);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  for (Eigen::Index p = 0; p < n; p += std::max(1, s.style.trail_every)) {
    const double a = r.action.size() == n && span > 0 ? (r.action[p] - s.action_lo) / span : 0.5;
    for (int b = 0; b < kBins; ++b) {
      const size_t f0 = size_t(b) * (nf - 1) / kBins, f1 = size_t(b + 1) * (nf - 1) / kBins;
      if (f1 == f0) continue;
      if (r.frame_times[f0] < s.t - 1e-9) break;  // not travelled yet
      int count = 0;  // points of the current sub-path: a point that cannot be drawn ends it
      bool cut = false;
      for (size_t f = f0; f <= f1; ++f) {
        cut = r.frame_times[f] < s.t - 1e-9;
        if (cut && !ends_at_particle) break;
        const Points& at = cut ? *s.particles : r.frames[f];
        const double x = px.x(at(0, p)), y = px.y(at(1, p));
        if (!px.drawable(x, y)) count = 0;
        else if (count++ == 0) cairo_move_to(cr, x, y);
        else cairo_line_to(cr, x, y);
        if (cut) break;
      }
      const double progress = (s.t_max - 0.5 * (r.frame_times[f0] + r.frame_times[f1])) / tspan;
      const Color c = trail_color(s.style.trail_color, progress, a, s.style.trail_alpha);
      cairo_set_source_rgba(cr, c.r, c.g, c.b, c.a);
      cairo_stroke(cr);
      if (cut) break;
    }
  }
}

// The legend: light text on a translucent dark box in the top left corner.
void draw_legend(cairo_t* cr, const SceneCamera& cam, const std::vector<std::string>& lines) {
  if (lines.empty()) return;
  const double font = legend_font(cam.height), pad = 0.5 * font, row = 1.3 * font;
  cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, font);
  double w = 0;
  for (const std::string& l : lines) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, l.c_str(), &e);
    w = std::max(w, e.x_advance);
  }
  const double x = pad, y = pad;
  cairo_rectangle(cr, x, y, w + 2 * pad, double(lines.size()) * row + pad);
  cairo_set_source_rgba(cr, 0.0, 0.0, 0.0, 0.45);
  cairo_fill(cr);
  cairo_set_source_rgba(cr, 0.88, 0.9, 0.94, 0.95);
  for (size_t i = 0; i < lines.size(); ++i) {
    cairo_move_to(cr, x + pad, y + pad + (double(i) + 0.78) * row);
    cairo_show_text(cr, lines[i].c_str());
  }
}

void check_size(const SceneCamera& c) {
  if (c.width < 16 || c.height < 16 || c.width > 16384 || c.height > 16384)
    throw Error("scene size " + std::to_string(c.width) + "x" + std::to_string(c.height) + " is outside 16..16384");
  if (!(c.half_height > 0) || !std::isfinite(c.cx) || !std::isfinite(c.cy))
    throw Error("scene camera: half_height must be > 0 and the centre finite");
}

void draw_scene(cairo_surface_t* surface, const Scene& s) {
  cairo_t* cr = cairo_create(surface);
  const Pixels px{s.camera};
  set_color(cr, kSceneBackground);
  cairo_paint(cr);
  if (s.style.data && s.data) draw_discs(cr, px, *s.data, data_point_size(s.style.particle_size), kSceneData);
  if (s.style.trails && s.paths) draw_trails(cr, px, s);
  if (s.style.particles && s.particles) draw_discs(cr, px, *s.particles, s.style.particle_size, kSceneParticle);
  draw_legend(cr, s.camera, s.legend);
  const cairo_status_t st = cairo_status(cr);
  cairo_destroy(cr);
  if (st != CAIRO_STATUS_SUCCESS) throw Error(std::string("scene rendering failed: ") + cairo_status_to_string(st));
}

using SurfacePtr = std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)>;

cairo_status_t append_to_string(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

}  // namespace

struct SceneRenderer::Impl {
  SurfacePtr surface{nullptr, &cairo_surface_destroy};
  std::vector<uint8_t> rgba;
};

SceneRenderer::SceneRenderer() : impl_(std::make_unique<Impl>()) {}
SceneRenderer::~SceneRenderer() = default;

const std::vector<uint8_t>& SceneRenderer::render(const Scene& s) {
  check_size(s.camera);
  const int w = s.camera.width, h = s.camera.height;
  SurfacePtr& surface = impl_->surface;
  if (!surface || cairo_image_surface_get_width(surface.get()) != w || cairo_image_surface_get_height(surface.get()) != h) {
    surface.reset(cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h));
    if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
      throw Error("scene: cannot allocate a " + std::to_string(w) + "x" + std::to_string(h) + " image");
  }
  draw_scene(surface.get(), s);
  cairo_surface_flush(surface.get());
  // RGB24: opaque pixels in native-endian 32-bit words 0x??RRGGBB, so no un-premultiplying.
  const unsigned char* data = cairo_image_surface_get_data(surface.get());
  const int stride = cairo_image_surface_get_stride(surface.get());
  std::vector<uint8_t>& out = impl_->rgba;
  out.resize(size_t(w) * size_t(h) * 4);
  for (int y = 0; y < h; ++y) {
    const auto* row = reinterpret_cast<const uint32_t*>(data + size_t(y) * size_t(stride));
    uint8_t* dst = out.data() + size_t(y) * size_t(w) * 4;
    for (int x = 0; x < w; ++x) {
      dst[4 * x + 0] = uint8_t(row[x] >> 16);
      dst[4 * x + 1] = uint8_t(row[x] >> 8);
      dst[4 * x + 2] = uint8_t(row[x]);
      dst[4 * x + 3] = 255;
    }
  }
  return out;
}

std::vector<uint8_t> render_scene_rgba(const Scene& s) { return SceneRenderer().render(s); }

std::string render_scene_svg(const Scene& s) {
  check_size(s.camera);
  std::string bytes;
  SurfacePtr surface(cairo_svg_surface_create_for_stream(append_to_string, &bytes, s.camera.width, s.camera.height),
                     &cairo_surface_destroy);
  cairo_svg_surface_set_document_unit(surface.get(), CAIRO_SVG_UNIT_PX);
  draw_scene(surface.get(), s);
  cairo_surface_finish(surface.get());
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
    throw Error(std::string("scene SVG: ") + cairo_status_to_string(cairo_surface_status(surface.get())));
  return bytes;
}

}  // namespace diffpath
