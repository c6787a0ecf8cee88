#pragma once
// The viewport's sampling worker: runs the η-sampler of the core on the newest request, first
// as a preview — the first 256 particles (the same start points as the full run, common random
// numbers) on a 4× coarser time grid — so a new η shows within ~100 ms, then all particles on
// the full grid.
#include <memory>

#include "diffpath/sampler.hpp"
#include "diffpath/schedule.hpp"
#include "diffpath/score_model.hpp"
#include "latest_job.hpp"

namespace diffpath::gui {

struct SampleRequest {
  ScoreModelPtr model;
  Schedule schedule;
  SamplerOptions options;    // full-resolution run
  uint64_t view_version = 0; // Session::view_version() of the model sampled
  int coarse_particles = 256;  // preview size (≥ options.n: single pass)
};

/// An immutable sampling result as the GUI shows it.
struct SampleView {
  SampleResult result;
  Schedule schedule;
  double eta = 1.0;
  uint64_t seed = 0;
  uint64_t view_version = 0;
  bool coarse = false;       // first pass of a progressive request
  double seconds = 0.0;      // wall time of this pass
  double action_lo = 0.0, action_hi = 1.0;   // robust colour range of the per-particle action
  int particles() const { return int(result.samples.cols()); }
};

using SamplingJob = LatestJob<SampleRequest, SampleView>;

std::unique_ptr<SamplingJob> make_sampling_job();

}  // namespace diffpath::gui
