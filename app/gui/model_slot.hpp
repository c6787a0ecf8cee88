#pragma once
// One model of the session (the main one is slot 0, the compared ones follow): where its score
// model comes from (a live-training MLP, the exact score, the Gaussian linear score or a
// checkpoint), its trainer, its evaluator, its loss and NLL/E[−c] histories and its colour.
// Every chart and every job iterates the slots; nothing treats the main model specially
// except the few options passed at construction (the exact-score reference line).
// Everything runs in background threads; tick() only polls.
//
// Adding one more per-slot result: one more LatestJob member fed like submit_nll_eta() and one
// more shared_ptr<const ...> accessor; the charts iterate slots() and pick it up (charts.cpp).
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "diffpath/figure.hpp"
#include "diffpath/score_model.hpp"
#include "diffpath/trainer.hpp"
#include "eval_job.hpp"
#include "experiment.hpp"
#include "nll_eta_job.hpp"

namespace diffpath::gui {

/// NLL(0) and E[−c] of one snapshot, for the "vs training step" chart.
struct EvalRecord {
  int64_t step = 0;
  double nll = 0, nll_se = 0, wkb = 0, wkb_se = 0;
  double wkb_median = NAN;  // median of −c: the bulk, next to the heavy-tailed mean
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

/// The experiment slot k runs: the experiment itself for k = 0, else the experiment with the
/// schedule and score model of its k-th compared model (same data, training settings, eval set).
Experiment slot_experiment(const Experiment& e, size_t k);

/// The empirical-score reference of the KL term costs O(data points) per score evaluation:
/// above this many training points the KL term is skipped, or with a 10⁶-row CSV it would
/// delay every snapshot's NLL by minutes (cancellation reaches it promptly either way).
inline constexpr int kMaxKlDataPoints = 20000;

class ModelSlot {
 public:
  /// What the slot evaluates on: the same for every slot of a session.
  struct EvalInputs {
    Points x0 = Points(2, 0);   // the fixed evaluation set
    double rtol = 1e-3;
    int kl_steps = 200;         // the sampler's steps: the KL term on the sampler's grid
  };

  /// Builds the model of `e` (loads the checkpoint, starts the trainer when `train`). Throws
  /// Error with a one-line reason (no shipped checkpoint, unreadable file, ...). `reference`:
  /// also evaluate the exact mixture score once (the "exact score" lines of the charts).
  ModelSlot(const Experiment& e, const Points& data, EvalInputs inputs, int color_index, bool train,
            bool reference);
  ~ModelSlot();
  ModelSlot(const ModelSlot&) = delete;
  ModelSlot& operator=(const ModelSlot&) = delete;

  /// Picks up new snapshots, the loss history (refreshed a few times a second: `now` in
  /// seconds) and evaluations; evaluates the newest snapshot when the evaluator is idle.
  void tick(double now);

  // ---- identity
  const std::string& label() const { return label_; }
  Color color() const { return palette_color(color_index_); }
  /// Colours follow the position in the list (no two slots share one).
  void set_color_index(int k) { color_index_ = k; }
  const Schedule& schedule() const { return schedule_; }
  ModelKind kind() const { return kind_; }
  const CompareSpec& spec() const { return spec_; }

  // ---- model (versions are unique across all slots of the process)
  ScoreModelPtr model() const { return model_; }
  uint64_t model_version() const { return model_version_; }
  int64_t model_step() const { return model_step_; }
  void save_checkpoint(const std::string& path, const std::string& data_spec) const;  // throws

  // ---- training (live MLP only; no-ops otherwise)
  bool trains() const { return trainer_ != nullptr; }
  const TrainerStatus& trainer_status() const { return status_; }
  void start_training();
  void pause_training();
  /// Fresh weights (even where the experiment warm-starts); keeps running if it was.
  void reset_training(const Experiment& e, const Points& data);
  /// Makes sure at least n more steps run; returns the step count to wait for.
  int64_t train_more(int64_t n);
  void set_lr(double lr);

  // ---- evaluation
  std::shared_ptr<const EvalResult> evaluation() const { return eval_latest_; }
  std::shared_ptr<const EvalResult> reference_evaluation() const { return eval_reference_; }
  const std::vector<EvalRecord>& eval_history() const { return eval_history_; }
  bool eval_busy() const { return evaluator_->busy(); }
  double eval_progress() const { return evaluator_->progress(); }
  uint64_t evaluations_done() const { return evaluations_done_; }
  /// NLL(η) of the newest snapshot that has one (coarse first, then the full grid; nullptr
  /// before the first). Evaluated when the NLL(η) worker is free, like evaluation().
  std::shared_ptr<const NllEtaResult> nll_eta() const { return nll_eta_latest_; }
  bool nll_eta_busy() const { return nll_eta_job_->busy(); }
  double nll_eta_progress() const { return nll_eta_job_->progress(); }
  /// New evaluation set or tolerance: clears the history, evaluates again.
  void set_eval_inputs(EvalInputs inputs);
  void set_kl_steps(int steps) { inputs_.kl_steps = steps; }

  /// The last training or evaluation failure, prefixed with the label ("" if none).
  const std::string& error() const { return error_; }
  void cancel_background_work() {
    evaluator_->cancel();
    nll_eta_job_->cancel();
  }

 private:
  void submit_eval();
  void submit_nll_eta();
  void clear_evaluations();

  CompareSpec spec_;
  ModelKind kind_ = ModelKind::Mlp;
  Schedule schedule_;
  std::string label_;
  int color_index_ = 0;
  EvalInputs inputs_;
  Points data_;                 // the training points (L* of the KL reference)
  ScoreModelPtr data_score_;    // ∇log p_t of the data, for the KL term (data_score)
  ScoreModelPtr reference_;     // exact mixture score next to a trained MLP (if any)
  bool gaussian_truth_ = false;
  GaussianScoreParams gaussian_;

  std::unique_ptr<BackgroundTrainer> trainer_;
  TrainerStatus status_;
  double last_history_refresh_ = -1.0;
  uint64_t seen_snapshot_ = 0;

  ScoreModelPtr model_;
  uint64_t model_version_ = 0;
  int64_t model_step_ = 0;

  std::unique_ptr<EvalJob> evaluator_;
  uint64_t evaluated_version_ = 0, seen_eval_ = 0, evaluations_done_ = 0;
  bool reference_pending_ = false;
  std::shared_ptr<const EvalResult> eval_latest_, eval_reference_;
  std::vector<EvalRecord> eval_history_;

  std::unique_ptr<NllEtaJob> nll_eta_job_;
  uint64_t nll_eta_version_ = 0, seen_nll_eta_ = 0;
  std::shared_ptr<const NllEtaResult> nll_eta_latest_;
  std::string error_;
};

}  // namespace diffpath::gui
