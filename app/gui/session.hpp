#pragma once
// The running experiment: its data, the current score model (a live-training MLP or an
// analytic/loaded one) and the background workers that turn them into pictures — sampler,
// evaluator, W2 sweep. The GUI thread calls tick() once per frame; nothing here blocks on
// numerics. Results are immutable snapshots (shared_ptr<const ...>).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "diffpath/score_model.hpp"
#include "diffpath/trainer.hpp"
#include "compare.hpp"
#include "eval_job.hpp"
#include "experiment.hpp"
#include "sampling_job.hpp"
#include "w2_job.hpp"

namespace diffpath::gui {


class Session {
 public:
  /// Sets up `initial`; a bad initial experiment falls back to the default one (error() says
  /// why). Training starts at once when `autostart`.
  explicit Session(const Experiment& initial, bool autostart = true);
  ~Session();

  const Experiment& experiment() const { return exp_; }
  /// Switches to `next`, restarting only what it invalidates. On bad input (unreadable CSV,
  /// bad checkpoint, ...) keeps the previous experiment, sets error() and returns false.
  bool apply(const Experiment& next);
  /// Once per frame: picks up new model snapshots and results, feeds the workers.
  void tick();

  // ---- data and model
  const Points& data() const { return data_; }
  const Points& eval_points() const { return eval_x_; }
  ScoreModelPtr model() const { return model_; }
  uint64_t model_version() const { return model_version_; }
  int64_t model_step() const { return model_step_; }
  bool training_model() const { return exp_.model == ModelKind::Mlp; }

  // ---- models compared with the main one (experiment().compare, same order)
  const std::vector<std::unique_ptr<CompareSlot>>& compare_slots() const { return slots_; }
  /// Label of the main model for charts ("simple · live MLP").
  std::string main_label() const { return model_label(exp_.schedule, exp_.model); }
  /// Which model the viewport samples: -1 = the main one, k = compare slot k.
  int view_index() const { return view_index_; }
  void set_view_index(int k);
  ScoreModelPtr view_model() const;
  const Schedule& view_schedule() const;
  /// Grows whenever the model the viewport samples changes (snapshot or selection).
  uint64_t view_version() const { return view_version_; }

  // ---- training (MLP only; no-ops otherwise)
  void start_training();
  void pause_training();
  void reset_training();
  /// Makes sure at least n more steps run; returns the step count to wait for.
  int64_t train_more(int64_t n);
  /// Brief status, refreshed every tick; the loss history is refreshed a few times a second.
  const TrainerStatus& trainer_status() const { return status_; }
  const std::vector<LossPoint>& loss_history() const { return status_.history; }
  void save_checkpoint(const std::string& path) const;  // throws Error

  // ---- results
  std::shared_ptr<const SampleView> sample() const { return sampling_->latest(); }
  /// The newest full-resolution sample (exports use it: a coarse first pass may be newer).
  std::shared_ptr<const SampleView> full_sample() const { return full_sample_; }
  double sampling_progress() const { return sampling_->progress(); }
  bool sampling_busy() const { return sampling_->busy() || resample_pending_; }
  /// True when the newest full-resolution sample matches the current experiment and model.
  bool sample_settled() const;
  /// True when the newest full-resolution sample has the current sampling settings and a
  /// viewed model at least as new as `min_version` (view_version(); a training model keeps
  /// changing meanwhile).
  bool sample_current(uint64_t min_version) const;

  std::shared_ptr<const EvalResult> evaluation() const { return eval_latest_; }
  std::shared_ptr<const EvalResult> reference_evaluation() const { return eval_reference_; }
  const std::vector<EvalRecord>& eval_history() const { return eval_history_; }
  double eval_progress() const { return evaluator_->progress(); }
  bool eval_busy() const { return evaluator_->busy(); }
  /// Number of evaluations finished so far (the script's wait-eval waits for it to grow).
  uint64_t evaluations_done() const { return evaluations_done_; }
  /// Exact NLL(η) when a closed form exists (Gaussian model), else NaN.
  double exact_nll(double eta) const;
  bool has_exact_nll() const { return exp_.model == ModelKind::Gaussian; }

  void request_w2_sweep();
  std::shared_ptr<const W2Result> w2() const { return w2_->latest(); }
  double w2_progress() const { return w2_->progress(); }
  bool w2_busy() const { return w2_->busy(); }
  uint64_t w2_done() const { return w2_->completed(); }

  void cancel_background_work();

  // ---- messages for the status line
  const std::string& error() const { return error_; }
  void set_error(std::string e) { error_ = std::move(e); }
  void clear_error() { error_.clear(); }

 private:
  void rebuild_data(const Experiment& e);          // throws Error
  void rebuild_model(const Experiment& e, bool autostart);  // throws Error
  void rebuild_slots(Experiment& e, bool keep_unchanged, bool autostart);  // errors → error_
  void poll_slots();
  void set_model(ScoreModelPtr m, int64_t step);
  void submit_sample(bool progressive = true);
  void submit_eval();
  void poll_trainer();
  void poll_evaluator();
  void log_timings();  // DIFFPATH_VERBOSE=1: one stderr line per result (tests, benchmarks)

  Experiment exp_;
  Points data_ = Points(2, 0);
  Points eval_x_ = Points(2, 0);

  std::unique_ptr<BackgroundTrainer> trainer_;
  TrainerStatus status_;
  double last_history_refresh_ = -1.0;
  uint64_t seen_snapshot_ = 0;

  ScoreModelPtr model_;
  ScoreModelPtr reference_;        // exact mixture score next to a trained MLP (if any)
  ScoreModelPtr data_score_;       // ∇log p_t of the data (compare.hpp data_score)
  uint64_t model_version_ = 0;
  int64_t model_step_ = 0;

  std::unique_ptr<SamplingJob> sampling_;
  std::unique_ptr<EvalJob> evaluator_;
  std::unique_ptr<W2Job> w2_;
  uint64_t sample_request_id_ = 0;   // model_version_ and experiment at the last submit
  Experiment sampled_exp_;
  bool resample_pending_ = false;
  uint64_t evaluated_version_ = 0;   // model version of the last submitted evaluation
  bool reference_pending_ = false;
  uint64_t seen_eval_ = 0;
  uint64_t evaluations_done_ = 0;
  std::shared_ptr<const EvalResult> eval_latest_, eval_reference_;
  std::shared_ptr<const SampleView> full_sample_;
  std::vector<EvalRecord> eval_history_;

  std::vector<std::unique_ptr<CompareSlot>> slots_;
  int view_index_ = -1;
  uint64_t view_version_ = 0;
  uint64_t seen_view_model_ = 0;   // model version of the viewed slot at the last check

  std::string error_;
  bool verbose_ = false;
  uint64_t logged_sample_ = 0, logged_eval_ = 0;
};

}  // namespace diffpath::gui
