#pragma once
// The viewport's render layers, bottom to top: density (log q_t heatmap), data (the training
// points and, for hovering, the evaluation points), trails (every k-th trajectory), arrows (the
// score field) and particles (at the scrubber's time), plus plain lines (axes, the hovered
// path). Each layer owns its GL objects (RAII) and has the same four parts: upload (new
// result → GPU), draw (one pass into the current target), hover (nearest item under the
// mouse) where it has items. Their colours, sizes and the trails' fading are the core
// scene's (scene.hpp), which also draws the same picture for SVG export and animations. No
// numerics: layers only lay out published results.
#include <memory>
#include <string>
#include <vector>

#include "colormap.hpp"
#include "diffpath/common.hpp"
#include "diffpath/scene.hpp"
#include "eval_job.hpp"
#include "experiment.hpp"
#include "gl_util.hpp"
#include "overlay_job.hpp"
#include "sampling_job.hpp"

namespace diffpath::gui {

/// World → clip (ndc = pos · scale + offset), for one frame.
struct ViewTransform {
  float scale[2] = {1, 1}, offset[2] = {0, 0};
  void apply(GLuint program) const;         // sets u_scale, u_offset
};

/// Index of the nearest of `n` points (x, y interleaved) within `radius` of (mx, my), or −1.
int nearest_point(const float* xy, size_t n, double mx, double my, double radius);

/// Plain coloured lines (x, y, r, g, b, a per vertex).
class LineLayer {
 public:
  bool init(std::string& error);
  void upload(const std::vector<float>& vertices, bool dynamic = false);
  void draw(const ViewTransform& vt, GLenum mode) const;

 private:
  GlProgram program_;
  GlVertexArray vao_;
  GlBuffer vbo_;
  GLsizei vertices_ = 0;
};

class DensityLayer {
 public:
  bool init(std::string& error);
  void upload(const OverlayResult* r);   // nullptr or no heatmap: nothing to draw
  void draw(const ViewTransform& vt, GLuint colormaps, float alpha) const;

 private:
  GlProgram program_;
  GlVertexArray vao_;
  GlBuffer vbo_;
  GlTexture field_;
  ViewColormap colormap_ = ViewColormap::Magma;  // the diverging map for a difference
  bool ready_ = false;
};

class DataLayer {
 public:
  bool init(std::string& error);
  /// The data set, thinned to a drawable size (an even spread of at most 20 000 points).
  void upload(const Points& data);
  void set_evaluation(std::shared_ptr<const EvalResult> e) { eval_ = std::move(e); }
  const std::shared_ptr<const EvalResult>& evaluation() const { return eval_; }
  void draw(const ViewTransform& vt, float size) const;
  /// The evaluation point (it has an NLL and c(x₀) to show) nearest to (mx, my), or −1.
  int hover(double mx, double my, double radius) const;
  const Points& points() const { return points_; }   // the drawn (thinned) data
  uint64_t version() const { return version_; }

 private:
  GlProgram program_;
  GlVertexArray vao_;
  GlBuffer vbo_;
  Points points_ = Points(2, 0);
  std::shared_ptr<const EvalResult> eval_;
  uint64_t version_ = 0;
};

class TrailLayer {
 public:
  bool init(std::string& error);
  void upload(const SampleView* s, int every);
  void draw(const ViewTransform& vt, GLuint colormaps, double t_now, TrailColor color, float alpha) const;
  /// The whole path of particle i, white, as line vertices for a LineLayer.
  std::vector<float> path_of(int i) const;
  uint64_t version() const { return version_; }

 private:
  GlProgram program_;
  GlVertexArray vao_;
  GlBuffer vbo_;
  const SampleView* sample_ = nullptr;   // kept alive by the viewport's shared_ptr
  int every_ = 1;
  std::vector<GLint> first_;
  std::vector<GLsizei> count_;
  uint64_t version_ = 0;
};

class ArrowLayer {
 public:
  bool init(std::string& error) { return lines_.init(error); }
  /// Arrows of the score field: length ∝ |s| up to 0.45 cells (saturating at the 90th
  /// percentile the overlay job measured), with a head.
  void upload(const OverlayResult* r);
  void draw(const ViewTransform& vt) const { lines_.draw(vt, GL_LINES); }

 private:
  LineLayer lines_;
};

class ParticleLayer {
 public:
  bool init(std::string& error);
  /// Positions at time t, interpolated between the recorded frames (cached per sample and t).
  void upload(const SampleView* s, double t);
  void draw(const ViewTransform& vt, float size) const;
  int hover(double mx, double my, double radius) const;
  const std::vector<float>& positions() const { return xy_; }

 private:
  GlProgram program_;
  GlVertexArray vao_;
  GlBuffer vbo_;
  std::vector<float> xy_;
  const SampleView* uploaded_for_ = nullptr;
  double uploaded_t_ = 0.0;
};

}  // namespace diffpath::gui
