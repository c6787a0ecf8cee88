#pragma once
// NLL(η) of a model snapshot (DESIGN §1.9): the likelihood of the η-sampler itself at a few η,
// on the session's evaluation set, in the background — the curve the WKB line is the tangent
// of. Progressive: a quick coarse pass (a quarter of the steps) first, then the full pass.
// One job per slot.
#include <memory>

#include "diffpath/likelihood.hpp"
#include "diffpath/schedule.hpp"
#include "diffpath/score_model.hpp"
#include "latest_job.hpp"

namespace diffpath::gui {

struct NllEtaRequest {
  ScoreModelPtr model;
  Schedule schedule;
  Points x0;                   // the fixed evaluation set (d × n)
  uint64_t model_version = 0;
  bool coarse_first = true;    // publish a quick coarse pass before the full grid
};

struct NllEtaResult {
  EtaLikelihoodSummary summary;
  Points x0;                   // the points of summary.points
  uint64_t model_version = 0;
  bool coarse = false;         // the quick first pass; the full grid follows
};

using NllEtaJob = LatestJob<NllEtaRequest, NllEtaResult>;

std::unique_ptr<NllEtaJob> make_nll_eta_job();

}  // namespace diffpath::gui
