#pragma once
// The viewport's scene (DESIGN §3), defined once: what the window's viewport shows — a dark
// background, the data, every k-th trajectory as a trail coloured by time or by its action,
// the particles at the scrubber's time and a small legend — and how it looks (colours, sizes,
// the trails' fading). One Cairo routine draws it to pixels (every animation frame,
// animation.hpp) and to SVG (the window's "viewport .svg"); the app's OpenGL layers draw the
// same scene with shaders and take their colours, sizes and fading from here.
//
//   Scene s;
//   s.data = &data; s.paths = &result; s.particles = &result.samples; s.t = schedule.t_min;
//   s.camera = fit_camera(-3, 3, -3, 3, 1280, 720);
//   s.legend = {"swissroll · simple · mlp", "η = 0.10   t = 0.001"};
//   std::vector<uint8_t> rgba = render_scene_rgba(s);
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "diffpath/common.hpp"
#include "diffpath/figure.hpp"
#include "diffpath/sampler.hpp"

namespace diffpath {

/// Straight RGBA. A dark, neutral background so both the viridis trails and the orange
/// particles stand out; data in a light slate so it reads as "reference".
inline constexpr std::array<float, 4> kSceneBackground = {0.075f, 0.082f, 0.102f, 1.0f};
inline constexpr std::array<float, 4> kSceneParticle = {1.0f, 0.62f, 0.11f, 0.9f};
inline constexpr std::array<float, 4> kSceneData = {0.55f, 0.80f, 1.0f, 0.55f};
/// A trail's opacity at Tmax relative to Tmin: the noisy start fades, the end near the data is
/// drawn in full, so the eye follows where the paths go rather than the tangle they come from.
inline constexpr float kTrailFade = 0.3f;

enum class TrailColor { Time, Action };

/// The colour of a trail at `progress` ∈ [0, 1] (0 at Tmax, 1 at Tmin): by time viridis at
/// the progress, by action the diverging map at the particle's normalised action `action_u`;
/// opacity alpha · (kTrailFade + (1 − kTrailFade) · progress).
Color trail_color(TrailColor mode, double progress, double action_u, double alpha);

/// Data points are drawn a little smaller than particles of diameter `particle_size` (pixels).
inline float data_point_size(float particle_size) { return particle_size - 0.5f > 2.0f ? particle_size - 0.5f : 2.0f; }

/// The colour range of the per-particle action: its 2nd and 98th percentiles, so a few
/// extreme paths do not wash out the scale ({0, 1} without finite values).
std::array<double, 2> action_color_range(const Vec& action);

/// What is seen: the world point (cx, cy) at the image centre, half_height world units from
/// the centre to the top edge (the width follows the aspect), width × height pixels.
struct SceneCamera {
  double cx = 0, cy = 0, half_height = 2;
  int width = 1280, height = 720;
};

/// The camera that shows the world rectangle [x0, x1] × [y0, y1] whole, centred, one unit as
/// long in x as in y, in the image below its top `top` pixels (legend_height: the legend's).
SceneCamera fit_camera(double x0, double x1, double y0, double y1, int width, int height, int top = 0);
/// Pixels from the top of a `height`-pixel image down to the bottom of a legend of `lines`.
int legend_height(int height, int lines);

struct SceneStyle {
  bool data = true, trails = true, particles = true;
  TrailColor trail_color = TrailColor::Time;
  float particle_size = 3.5f;   // diameter in pixels
  float trail_alpha = 0.25f;
  int trail_every = 16;         // every k-th particle's path is drawn
};

/// One picture of the viewport. The big arrays are borrowed, not copied: a scene is built,
/// drawn and dropped while they live. Null pointers draw nothing of that kind.
struct Scene {
  const Points* data = nullptr;          // 2 × m reference points
  const SampleResult* paths = nullptr;   // recorded frames (the trails) and per-particle action
  const Points* particles = nullptr;     // 2 × n positions at t (their trails end there)
  double t = 0;                          // the scrubber: trails show the part travelled, ≥ t
  double t_min = 0, t_max = 1;           // the schedule's range (trail colour by time)
  double action_lo = 0, action_hi = 1;   // the action's colour range (action_color_range)
  std::vector<std::string> legend;       // lines in a box at the top left; empty: no box
  SceneCamera camera;
  SceneStyle style;
};

/// The legend's two lines: `caption` (data · schedule · model) and "η = …   t = …".
std::vector<std::string> scene_legend(const std::string& caption, double eta, double t);

/// camera.width × camera.height straight RGBA8, top row first (render_rgba's layout), opaque.
/// Throws Error if the size is not in [16, 16384].
std::vector<uint8_t> render_scene_rgba(const Scene& scene);

/// render_scene_rgba for a stream of frames: keeps its Cairo surface and pixel buffer from
/// frame to frame (at video sizes, touching fresh pages every frame costs about as much as
/// the drawing).
class SceneRenderer {
 public:
  SceneRenderer();
  ~SceneRenderer();
  SceneRenderer(const SceneRenderer&) = delete;
  SceneRenderer& operator=(const SceneRenderer&) = delete;
  /// The frame's pixels, valid until the next call.
  const std::vector<uint8_t>& render(const Scene& scene);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};
/// The same picture as an SVG document (pixels as px).
std::string render_scene_svg(const Scene& scene);

}  // namespace diffpath
