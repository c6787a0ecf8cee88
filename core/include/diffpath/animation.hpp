#pragma once
// Animations of the η-sampler as video (video.hpp):
//   time  one η, the particles flowing from noise (Tmax) to data (Tmin), trails growing;
//   eta   the η morph: η from a to b, the final particles and their whole trails at each η,
//         all under common random numbers (the same seed: the same Brownian increments), so
//         the frames change only because η does.
//   training  a fresh network trained by DSM; each frame the samples (one η, common random
//         numbers) of a snapshot, so the frames change only because the network learns.
// Each frame is the window's viewport scene (scene.hpp: dark background, data, trails
// coloured by time or action, particles, a legend with data set, schedule, model, η and t)
// under one camera for the whole clip, so a frame is exactly render_scene_rgba of its scene.
// The η morph and the training sample the next frame's particles on their own thread while
// frame i is rendered and encoded (at most two runs in memory); frames go to the encoder one
// by one.
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "diffpath/sampler.hpp"
#include "diffpath/scene.hpp"
#include "diffpath/schedule.hpp"
#include "diffpath/score_model.hpp"
#include "diffpath/trainer.hpp"
#include "diffpath/video.hpp"

namespace diffpath {

enum class AnimationKind { Time, Eta, Training };

struct AnimationOptions {
  AnimationKind kind = AnimationKind::Time;
  std::vector<double> etas = {0.1};   // time: etas[0]; eta: the morph's η, in order
  int n = 2000;                       // particles
  int steps = 200;                    // sampler steps from Tmax to Tmin
  uint64_t seed = 0;
  int frames = 120;                   // time: frames over the scrubber (at most steps + 1);
                                      // training: snapshots (the first before any step)
  int64_t train_steps = 2000;         // training: Adam steps over the clip
  SceneStyle style;                   // what is drawn and how (the window's defaults)
  int threads = 0;                    // sampler threads (0 = all cores)
  /// Fixed scene limits {x0, x1, y0, y1} (shown whole); empty: fitted to the data and the
  /// particles (time: every frame; eta: the first and last η), padded, the same for the clip.
  std::vector<double> limits;
  VideoOptions video;
};

/// The η morph's and the training's trails are recorded at this many frames (the sampler's
/// stride is steps / this): enough for smooth curves at any step count.
inline constexpr int kMorphTrailFrames = 50;

struct AnimationReport {
  int frames = 0;
  // Sampling runs on its own thread in the η morph, overlapping rendering and encoding:
  // the three parts add up to more than total_seconds there.
  double sample_seconds = 0, render_seconds = 0, encode_seconds = 0, total_seconds = 0;
  double train_seconds = 0;   // training: the Adam steps (on the sampling thread)
  bool cancelled = false;
};

/// Samples, renders and encodes the clip into `path` (.mp4, .webm, .gif). The writer is opened
/// first, so a bad path or size fails before any sampling; on cancel or error no file is left.
/// `data` (2 × m) is the reference drawn under the particles, `caption` names data, schedule
/// and model (the legend's first line). `progress` is called on the calling thread only.
/// Throws Error for a model of dimension ≠ 2, empty etas, η outside [0, 1].
AnimationReport write_animation(const ScoreModel& model, const Schedule& schedule,
                                const Points& data, const std::string& caption,
                                const AnimationOptions& options, const std::string& path,
                                const std::atomic<bool>* cancel = nullptr,
                                const std::function<void(double)>& progress = {});

/// The training animation: a fresh network (config: data, schedule, architecture, seed, lr)
/// trained for options.train_steps Adam steps; frame j shows the samples at η = etas[0] of
/// the network after round(j · train_steps / (frames − 1)) steps, over the training data,
/// with the step and the loss in the legend. Checks and files as write_animation.
AnimationReport write_training_animation(const TrainConfig& config, const std::string& caption,
                                         const AnimationOptions& options, const std::string& path,
                                         const std::atomic<bool>* cancel = nullptr,
                                         const std::function<void(double)>& progress = {});

}  // namespace diffpath
