#pragma once
// The evaluator: NLL(0) and the WKB coefficient E[−c] of a model snapshot on a fixed
// evaluation set (DESIGN §1.5–1.6), and the path-integral KL term E_P[Ã_θ − Ã] (§1.4), in the
// background. One result per snapshot; the session collects them into the "vs training step"
// history.
#include <memory>
#include <optional>
#include <vector>

#include "diffpath/action.hpp"
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
  /// ∇log p_t of the data's distribution (the mixture of a mixture data set, else the
  /// empirical training set): when set, also the KL term of the action bound on data paths
  /// from x0 over kl_steps steps, and the irreducible DSM loss L* of `exact` on kl_data.
  ScoreModelPtr exact;
  int kl_steps = 200;
  Points kl_data;
};

/// A snapshot's evaluation: one pass on one thread (no tenfold-tighter rerun), so a training
/// model is evaluated often and the other core stays with the sampler.
EvalRequest snapshot_eval_request(ScoreModelPtr model, const Schedule& schedule, const Points& x0,
                                  double rtol, uint64_t model_version, int64_t step);

struct EvalResult {
  LikelihoodSummary summary;
  Points x0;                   // the evaluation points, for the map of c(x₀)
  uint64_t model_version = 0;
  int64_t step = 0;
  bool reference = false;
  std::vector<double> exact_eta, exact_nll;   // exact NLL(η) curve (Gaussian model only)
  std::optional<ActionKl> kl;                 // with EvalRequest::exact
  LossEstimate loss_star;                     // L*, with EvalRequest::exact
};

using EvalJob = LatestJob<EvalRequest, EvalResult>;

std::unique_ptr<EvalJob> make_eval_job();

}  // namespace diffpath::gui
