#pragma once
// Animations of the η-sampler as video (video.hpp):
//   time  one η, the particles flowing from noise (Tmax) to data (Tmin), trails growing;
//   eta   the η morph: η from a to b, the final particles and their whole trails at each η,
//         all under common random numbers (the same seed: the same Brownian increments), so
//         the frames change only because η does.
// Each frame is a core Figure (figure.hpp) — data, trails, particles, a caption with the data
// set, schedule, model, η and t — rendered by the charts' Cairo renderer, with fixed limits
// over the whole clip, so a frame is exactly what save_figure of animation_frame writes.
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "diffpath/figure.hpp"
#include "diffpath/sampler.hpp"
#include "diffpath/schedule.hpp"
#include "diffpath/score_model.hpp"
#include "diffpath/video.hpp"

namespace diffpath {

enum class AnimationKind { Time, Eta };

struct AnimationOptions {
  AnimationKind kind = AnimationKind::Time;
  std::vector<double> etas = {0.1};   // time: etas[0]; eta: the morph's η, in order
  int n = 2000;                       // particles
  int steps = 200;                    // sampler steps from Tmax to Tmin
  uint64_t seed = 0;
  int frames = 120;                   // time: frames over the scrubber (at most steps + 1)
  bool trails = true;
  int trail_every = 16;               // every k-th particle's path is drawn
  bool color_by_action = false;       // particles coloured by their path's action Ã/η
  int threads = 0;
  /// Fixed scene limits {x0, x1, y0, y1}; empty: fitted to the data and every frame's
  /// particles (padded), the same for the whole clip.
  std::vector<double> limits;
  VideoOptions video;
};

/// What one frame shows (the caption's words and the scene's limits are the same for the clip).
struct AnimationScene {
  Points data;                        // 2 × m reference points
  Points particles;                   // 2 × n at the frame's time
  std::vector<Points> trails;         // each 2 × (frames so far)
  Vec action;                         // per particle (color_by_action)
  double eta = 0, t = 0;
  std::string caption;                // data set · schedule · model
  double x0 = -2, x1 = 2, y0 = -2, y1 = 2;
};

/// The frame's figure (a 2D scene; aspect equal).
Figure animation_frame(const AnimationScene& scene, const AnimationOptions& options);

struct AnimationReport {
  int frames = 0;
  double sample_seconds = 0, render_seconds = 0, encode_seconds = 0;
  bool cancelled = false;
};

/// Samples, renders and encodes the clip into `path` (.mp4, .webm, .gif). The writer is opened
/// first, so a bad path or size fails before any sampling; on cancel or error no file is left.
/// `data` (2 × m) is the reference drawn under the particles, `caption` names data, schedule
/// and model. Throws Error for a model of dimension ≠ 2, empty etas, η outside [0, 1].
AnimationReport write_animation(const ScoreModel& model, const Schedule& schedule,
                                const Points& data, const std::string& caption,
                                const AnimationOptions& options, const std::string& path,
                                const std::atomic<bool>* cancel = nullptr,
                                const std::function<void(double)>& progress = {});

}  // namespace diffpath
