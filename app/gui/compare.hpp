#pragma once
// A model compared with the main one (the "compare" list): same data and evaluation set, its
// own schedule and score model, its own trainer (live MLP) and evaluator, its own loss and
// NLL/E[−c] histories. Everything runs in background threads; tick() only polls.
#include <cstdint>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "diffpath/score_model.hpp"
#include "diffpath/trainer.hpp"
#include "eval_job.hpp"
#include "experiment.hpp"

namespace diffpath::gui {

/// NLL(0) and E[−c] of one snapshot, for the "vs training step" chart.
struct EvalRecord {
  int64_t step = 0;
  double nll = 0, nll_se = 0, wkb = 0, wkb_se = 0;
  // The KL term E_P[Ã_θ − Ã] by actions and by the loss formula, and L* (NaN: not computed).
  double kl_actions = NAN, kl_actions_se = NAN, kl_loss = NAN, kl_loss_se = NAN;
  double loss_star = NAN, loss_star_se = NAN;
};

/// Appends (or replaces, for the same step) the record of a finished evaluation.
void add_eval_record(std::vector<EvalRecord>& history, const EvalResult& r);

/// ∇log p_t of the data's distribution — the "exact score" model and the reference of the KL
/// term: the mixture of a mixture data set (25/8 Gaussians, Gaussians), otherwise the
/// empirical distribution of the training points `data` (what a network is trained on), as
/// the score spec exact:DATA.
ScoreModelPtr data_score(const Experiment& e, const Points& data, const Schedule& schedule);

/// The trainer configuration of experiment `e` on `data` (warm-started from the shipped
/// checkpoint when e.warm_start and one exists). Throws Error on an unreadable checkpoint.
TrainConfig make_train_config(const Experiment& e, const Points& data);

/// A short name for charts and lists: "cosine · checkpoint".
std::string model_label(const Schedule& schedule, ModelKind kind);

class CompareSlot {
 public:
  /// Builds the model (loads the checkpoint, starts the trainer when `train`). Throws Error
  /// with a one-line reason (no shipped checkpoint, unreadable file, ...).
  CompareSlot(const CompareSpec& spec, const Experiment& base, const Points& data,
              const Points& eval_x, bool train);
  ~CompareSlot();
  CompareSlot(const CompareSlot&) = delete;
  CompareSlot& operator=(const CompareSlot&) = delete;

  /// Picks up new snapshots and evaluations; evaluates the newest snapshot when idle.
  void tick();

  const CompareSpec& spec() const { return spec_; }
  const std::string& label() const { return label_; }
  const Schedule& schedule() const { return spec_.schedule; }
  ScoreModelPtr model() const { return model_; }
  uint64_t model_version() const { return model_version_; }
  int64_t model_step() const { return model_step_; }
  bool trains() const { return trainer_ != nullptr; }
  const TrainerStatus& trainer_status() const { return status_; }
  const std::vector<EvalRecord>& eval_history() const { return eval_history_; }
  std::shared_ptr<const EvalResult> evaluation() const { return eval_latest_; }
  bool eval_busy() const { return evaluator_->busy(); }
  double eval_progress() const { return evaluator_->progress(); }
  uint64_t evaluations_done() const { return evaluations_done_; }
  const std::string& error() const { return error_; }

  void start_training();
  void pause_training();
  int64_t train_more(int64_t n);

 private:
  void submit_eval();

  CompareSpec spec_;
  std::string label_;
  Points eval_x_;
  double eval_rtol_ = 1e-3;
  Points data_;                 // the training points (L* of the KL reference)
  ScoreModelPtr data_score_;    // ∇log p_t of the data, for the KL term (data_score)
  int kl_steps_ = 200;          // the sampler's steps: the KL term on the sampler's grid
  std::unique_ptr<BackgroundTrainer> trainer_;
  TrainerStatus status_;
  double last_history_refresh_ = -1.0;
  uint64_t seen_snapshot_ = 0;
  ScoreModelPtr model_;
  uint64_t model_version_ = 0;
  int64_t model_step_ = 0;
  std::unique_ptr<EvalJob> evaluator_;
  uint64_t evaluated_version_ = 0, seen_eval_ = 0, evaluations_done_ = 0;
  std::shared_ptr<const EvalResult> eval_latest_;
  std::vector<EvalRecord> eval_history_;
  std::string error_;
};

}  // namespace diffpath::gui
