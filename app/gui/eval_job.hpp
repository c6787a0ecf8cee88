#pragma once
// The evaluator: NLL(0) and the WKB coefficient E[−c] of a model snapshot on a fixed
// evaluation set (DESIGN §1.5–1.6), in the background. One result per snapshot; the session
// collects them into the "vs training step" history.
#include <memory>
#include <vector>

#include "diffpath/likelihood.hpp"
#include "diffpath/schedule.hpp"
#include "diffpath/score_model.hpp"
#include "latest_job.hpp"

namespace diffpath::gui {

struct EvalRequest {
  ScoreModelPtr model;
  Schedule schedule;
  Points x0;                   // the fixed evaluation set (d × n)
  LikelihoodOptions options;
  uint64_t model_version = 0;
  int64_t step = 0;            // training step of the snapshot (0 for analytic models)
  bool reference = false;      // the exact-score reference model, not the one being trained
  /// Gaussian model: also tabulate the exact NLL(η) on [0, 1] (ground_truth.hpp).
  bool gaussian_truth = false;
  GaussianScoreParams gaussian;
};

struct EvalResult {
  LikelihoodSummary summary;
  Points x0;                   // the evaluation points, for the map of c(x₀)
  uint64_t model_version = 0;
  int64_t step = 0;
  bool reference = false;
  std::vector<double> exact_eta, exact_nll;   // exact NLL(η) curve (Gaussian model only)
};

using EvalJob = LatestJob<EvalRequest, EvalResult>;

std::unique_ptr<EvalJob> make_eval_job();

}  // namespace diffpath::gui
