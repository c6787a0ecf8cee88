#pragma once
// Animation export from the window (core animation.hpp): the viewed model's time flow or η
// morph, or a fresh network's training, sampled, rendered and encoded in the background with
// progress and cancel; the window stays interactive. One request at a time (a new one cancels the running one, whose
// partial file the core removes).
#include <memory>
#include <optional>
#include <string>

#include "diffpath/animation.hpp"
#include "latest_job.hpp"

namespace diffpath::gui {

struct AnimationRequest {
  ScoreModelPtr model;
  std::optional<TrainConfig> training;   // set: the training animation (model unused)
  Schedule schedule;
  Points data;            // the reference drawn under the particles
  std::string caption;    // data · schedule · model
  AnimationOptions options;
  std::string path;       // .mp4, .webm or .gif
};

struct AnimationResult {
  std::string path;
  AnimationReport report;
};

using AnimationJob = LatestJob<AnimationRequest, AnimationResult>;

std::unique_ptr<AnimationJob> make_animation_job();

}  // namespace diffpath::gui
