// Index: ViewTransform and helpers · LineLayer · DensityLayer · DataLayer · TrailLayer ·
// ArrowLayer · ParticleLayer. Each layer: init (program + VAO), upload, draw, hover.
#include "viewport_layers.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "colormap.hpp"

namespace diffpath::gui {
namespace {

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

// A VAO over one buffer with float attributes of the given sizes, interleaved.
void setup_attributes(const GlVertexArray& vao, const GlBuffer& vbo, std::initializer_list<int> sizes) {
  glBindVertexArray(vao);
  glBindBuffer(GL_ARRAY_BUFFER, vbo);
  int stride = 0;
  for (int s : sizes) stride += s;
  int offset = 0, index = 0;
  for (int s : sizes) {
    glEnableVertexAttribArray(GLuint(index));
    glVertexAttribPointer(GLuint(index), s, GL_FLOAT, GL_FALSE, GLsizei(stride * sizeof(float)),
                          reinterpret_cast<void*>(size_t(offset) * sizeof(float)));
    offset += s;
    ++index;
  }
  glBindVertexArray(0);
}

bool init_layer(const char* shader, GlProgram& program, GlVertexArray& vao, GlBuffer& vbo,
                std::initializer_list<int> sizes, std::string& error) {
  program.reset(load_program(shader, error));
  if (!program) return false;
  vao = make_vertex_array();
  vbo = make_buffer();
  setup_attributes(vao, vbo, sizes);
  return true;
}

void upload_floats(const GlBuffer& vbo, const std::vector<float>& v, GLenum usage) {
  glBindBuffer(GL_ARRAY_BUFFER, vbo);
  glBufferData(GL_ARRAY_BUFFER, GLsizeiptr(v.size() * sizeof(float)), v.data(), usage);
}

void bind_colormaps(GLuint program, GLuint colormaps, int unit) {
  glActiveTexture(GLenum(GL_TEXTURE0 + unit));
  glBindTexture(GL_TEXTURE_2D, colormaps);
  glUniform1i(glGetUniformLocation(program, "u_colormaps"), unit);
  glActiveTexture(GL_TEXTURE0);
}

}  // namespace

// ---------------------------------------------------------------- ViewTransform, helpers

void ViewTransform::apply(GLuint program) const {
  glUniform2f(glGetUniformLocation(program, "u_scale"), scale[0], scale[1]);
  glUniform2f(glGetUniformLocation(program, "u_offset"), offset[0], offset[1]);
}

int nearest_point(const float* xy, size_t n, double mx, double my, double radius) {
  int best = -1;
  for (size_t i = 0; i < n; ++i) {
    const double d = std::hypot(xy[2 * i] - mx, xy[2 * i + 1] - my);
    if (d < radius) {
      radius = d;
      best = int(i);
    }
  }
  return best;
}

// ---------------------------------------------------------------- LineLayer

bool LineLayer::init(std::string& error) { return init_layer("lines", program_, vao_, vbo_, {2, 4}, error); }

void LineLayer::upload(const std::vector<float>& v, bool dynamic) {
  upload_floats(vbo_, v, dynamic ? GL_STREAM_DRAW : GL_STATIC_DRAW);
  vertices_ = GLsizei(v.size() / 6);
}

void LineLayer::draw(const ViewTransform& vt, GLenum mode) const {
  if (vertices_ == 0) return;
  glUseProgram(program_);
  vt.apply(program_);
  glBindVertexArray(vao_);
  glDrawArrays(mode, 0, vertices_);
}

// ---------------------------------------------------------------- DensityLayer

bool DensityLayer::init(std::string& error) {
  if (!init_layer("density", program_, vao_, vbo_, {2, 2}, error)) return false;
  field_ = make_texture();
  glBindTexture(GL_TEXTURE_2D, field_);
  set_linear_clamp();
  return true;
}

void DensityLayer::upload(const OverlayResult* r) {
  ready_ = false;
  if (!r || r->nx <= 0 || r->ny <= 0 || r->log_density.size() != size_t(r->nx) * r->ny) return;
  // Normalised to [0, 1] over [lo, hi] on the CPU (failed points: 0), one float channel; the
  // quad spans the grid's outer cell edges.
  std::vector<float> v(r->log_density.size());
  const double span = std::max(1e-9, r->hi - r->lo);
  const float outside = r->delta ? 0.5f : 0.0f;  // no value: the colormap's "nothing"
  for (size_t k = 0; k < v.size(); ++k)
    v[k] = std::isfinite(r->log_density[k]) ? float(std::clamp((r->log_density[k] - r->lo) / span, 0.0, 1.0)) : outside;
  glBindTexture(GL_TEXTURE_2D, field_);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_R32F, r->nx, r->ny, 0, GL_RED, GL_FLOAT, v.data());
  colormap_ = r->delta ? ViewColormap::Diverging : ViewColormap::Magma;
  const GridWindow& w = r->window;
  upload_floats(vbo_, {float(w.x0), float(w.y0), 0, 0, float(w.x1), float(w.y0), 1, 0,
                       float(w.x0), float(w.y1), 0, 1, float(w.x1), float(w.y1), 1, 1},
                GL_STATIC_DRAW);
  ready_ = true;
}

void DensityLayer::draw(const ViewTransform& vt, GLuint colormaps, float alpha) const {
  if (!ready_) return;
  glUseProgram(program_);
  vt.apply(program_);
  glActiveTexture(GL_TEXTURE0);
  glBindTexture(GL_TEXTURE_2D, field_);
  glUniform1i(glGetUniformLocation(program_, "u_field"), 0);
  bind_colormaps(program_, colormaps, 1);
  glUniform1f(glGetUniformLocation(program_, "u_alpha"), alpha);
  glUniform1f(glGetUniformLocation(program_, "u_row"), (float(int(colormap_)) + 0.5f) / kViewColormaps);
  glBindVertexArray(vao_);
  glDrawArrays(GL_TRIANGLE_STRIP, 0, 4);
}

// ---------------------------------------------------------------- DataLayer

bool DataLayer::init(std::string& error) { return init_layer("particles", program_, vao_, vbo_, {2}, error); }

void DataLayer::upload(const Points& all) {
  // The data are the reference picture, not a result: at most kMaxDrawn points, spread evenly
  // over the set (a 10⁶-row CSV would make every software-GL frame take seconds).
  constexpr Eigen::Index kMaxDrawn = 20000;
  const Eigen::Index n = std::min(all.cols(), kMaxDrawn);
  points_.resize(2, n);
  for (Eigen::Index i = 0; i < n; ++i) points_.col(i) = all.col(i * all.cols() / n);
  std::vector<float> v(size_t(n) * 2);
  for (Eigen::Index i = 0; i < n; ++i) {
    v[size_t(2 * i)] = float(points_(0, i));
    v[size_t(2 * i + 1)] = float(points_(1, i));
  }
  upload_floats(vbo_, v, GL_STATIC_DRAW);
  ++version_;
}

void DataLayer::draw(const ViewTransform& vt, float size) const {
  if (points_.cols() == 0) return;
  glUseProgram(program_);
  vt.apply(program_);
  glUniform1f(glGetUniformLocation(program_, "u_size"), data_point_size(size));
  glUniform4fv(glGetUniformLocation(program_, "u_color"), 1, kSceneData.data());
  glBindVertexArray(vao_);
  glDrawArrays(GL_POINTS, 0, GLsizei(points_.cols()));
}

int DataLayer::hover(double mx, double my, double radius) const {
  if (!eval_) return -1;
  std::vector<float> xy(size_t(eval_->x0.cols()) * 2);
  for (Eigen::Index i = 0; i < eval_->x0.cols(); ++i) {
    xy[size_t(2 * i)] = float(eval_->x0(0, i));
    xy[size_t(2 * i + 1)] = float(eval_->x0(1, i));
  }
  return nearest_point(xy.data(), xy.size() / 2, mx, my, radius);
}

// ---------------------------------------------------------------- TrailLayer

bool TrailLayer::init(std::string& error) { return init_layer("trails", program_, vao_, vbo_, {2, 1, 1}, error); }

void TrailLayer::upload(const SampleView* s, int every) {
  sample_ = s;
  every_ = std::max(1, every);
  first_.clear();
  count_.clear();
  ++version_;
  if (!s || s->result.frames.size() < 2) return;
  const auto& frames = s->result.frames;
  const auto& times = s->result.frame_times;
  const auto& action = s->result.action;
  const int n = int(frames.front().cols()), nf = int(frames.size());
  const double lo = s->action_lo, span = s->action_hi - s->action_lo;
  // Per vertex: x, y, its time t and the particle's action normalised to [0, 1].
  std::vector<float> v;
  v.reserve(size_t(n / every_ + 1) * nf * 4);
  for (int p = 0; p < n; p += every_) {
    const float a = action.size() == n ? float(std::clamp((action[p] - lo) / span, 0.0, 1.0)) : 0.5f;
    first_.push_back(GLint(v.size() / 4));
    for (int f = 0; f < nf; ++f) {
      v.push_back(float(frames[f](0, p)));
      v.push_back(float(frames[f](1, p)));
      v.push_back(float(times[f]));
      v.push_back(a);
    }
    count_.push_back(nf);
  }
  upload_floats(vbo_, v, GL_STATIC_DRAW);
}

void TrailLayer::draw(const ViewTransform& vt, GLuint colormaps, double t_now, TrailColor color,
                      float alpha) const {
  if (!sample_ || first_.empty()) return;
  glUseProgram(program_);
  vt.apply(program_);
  bind_colormaps(program_, colormaps, 1);
  glUniform1f(glGetUniformLocation(program_, "u_t_now"), float(t_now));
  glUniform1f(glGetUniformLocation(program_, "u_t_min"), float(sample_->schedule.t_min));
  glUniform1f(glGetUniformLocation(program_, "u_t_max"), float(sample_->schedule.t_max));
  glUniform1i(glGetUniformLocation(program_, "u_mode"), color == TrailColor::Time ? 0 : 1);
  glUniform1f(glGetUniformLocation(program_, "u_alpha"), alpha);
  glUniform1f(glGetUniformLocation(program_, "u_fade"), kTrailFade);
  glBindVertexArray(vao_);
  glMultiDrawArrays(GL_LINE_STRIP, first_.data(), count_.data(), GLsizei(first_.size()));
}

std::vector<float> TrailLayer::path_of(int i) const {
  std::vector<float> v;
  if (!sample_ || i < 0 || i >= sample_->particles()) return v;
  for (const Points& f : sample_->result.frames) {
    const float p[] = {float(f(0, i)), float(f(1, i)), 1, 1, 1, 0.95f};
    v.insert(v.end(), p, p + 6);
  }
  return v;
}

// ---------------------------------------------------------------- ArrowLayer

void ArrowLayer::upload(const OverlayResult* r) {
  std::vector<float> v;
  if (r && !r->arrows.empty()) {
    const size_t n = r->arrows.size() / 4;
    const int nx = std::max(1, r->score_nx), ny = std::max(1, r->score_ny);
    const double cell = std::min((r->window.x1 - r->window.x0) / nx, (r->window.y1 - r->window.y0) / ny);
    v.reserve(n * 6 * 6);
    auto vertex = [&](double x, double y, float a) {
      const float p[] = {float(x), float(y), 0.80f, 0.93f, 1.0f, a};
      v.insert(v.end(), p, p + 6);
    };
    for (size_t k = 0; k < n; ++k) {
      const double x = r->arrows[4 * k], y = r->arrows[4 * k + 1];
      const double sx = r->arrows[4 * k + 2], sy = r->arrows[4 * k + 3];
      const double m = std::hypot(sx, sy);
      if (!std::isfinite(m) || m <= 0) continue;
      const double frac = std::min(1.0, m / r->score_ref);
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
  }
  lines_.upload(v);
}

// ---------------------------------------------------------------- ParticleLayer

bool ParticleLayer::init(std::string& error) { return init_layer("particles", program_, vao_, vbo_, {2}, error); }

void ParticleLayer::upload(const SampleView* s, double t) {
  if (!s) {
    xy_.clear();
    uploaded_for_ = nullptr;
    return;
  }
  if (uploaded_for_ == s && uploaded_t_ == t) return;
  const auto& r = s->result;
  const int n = int(r.samples.cols());
  xy_.resize(size_t(n) * 2);
  if (r.frames.size() >= 2) {
    size_t f;
    double w;
    locate(r.frame_times, t, f, w);
    const Points& a = r.frames[f];
    const Points& b = r.frames[f + 1];
    for (int i = 0; i < n; ++i) {
      xy_[2 * i] = float((1 - w) * a(0, i) + w * b(0, i));
      xy_[2 * i + 1] = float((1 - w) * a(1, i) + w * b(1, i));
    }
  } else {
    for (int i = 0; i < n; ++i) {
      xy_[2 * i] = float(r.samples(0, i));
      xy_[2 * i + 1] = float(r.samples(1, i));
    }
  }
  upload_floats(vbo_, xy_, GL_STREAM_DRAW);
  uploaded_for_ = s;
  uploaded_t_ = t;
}

void ParticleLayer::draw(const ViewTransform& vt, float size) const {
  if (xy_.empty()) return;
  glUseProgram(program_);
  vt.apply(program_);
  glUniform1f(glGetUniformLocation(program_, "u_size"), size);
  glUniform4fv(glGetUniformLocation(program_, "u_color"), 1, kSceneParticle.data());
  glBindVertexArray(vao_);
  glDrawArrays(GL_POINTS, 0, GLsizei(xy_.size() / 2));
}

int ParticleLayer::hover(double mx, double my, double radius) const {
  return nearest_point(xy_.data(), xy_.size() / 2, mx, my, radius);
}

}  // namespace diffpath::gui
