#pragma once
// The running experiment: its data, its models (slots(): slot 0 is the main model, the compared
// ones follow — model_slot.hpp) and the workers that belong to the session rather than to one
// model: the viewport's sampler (it samples the viewed slot) and the W2 sweep (of the main
// model). The GUI thread calls tick() once per frame; nothing here blocks on numerics.
// Results are immutable snapshots (shared_ptr<const ...>).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "experiment.hpp"
#include "model_slot.hpp"
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
  /// A compared model that cannot be built is dropped from the list (error() says why).
  bool apply(const Experiment& next);
  /// Once per frame (`now` in seconds): picks up new snapshots and results, feeds the workers.
  void tick(double now);

  // ---- data
  const Points& data() const { return data_; }
  const Points& eval_points() const { return eval_x_; }

  // ---- models: slot 0 is the main model, slot k the k-th compared one (experiment().compare)
  const std::vector<std::unique_ptr<ModelSlot>>& slots() const { return slots_; }
  ModelSlot& main() { return *slots_.front(); }
  const ModelSlot& main() const { return *slots_.front(); }
  /// The slot the viewport samples (0 = the main model).
  size_t view_index() const { return view_index_; }
  void set_view_index(size_t k);
  const ModelSlot& view_slot() const { return *slots_[view_index_]; }
  ScoreModelPtr view_model() const { return view_slot().model(); }
  const Schedule& view_schedule() const { return view_slot().schedule(); }
  /// Grows whenever the model the viewport samples changes (snapshot or selection).
  uint64_t view_version() const { return view_version_; }

  // ---- training: every training slot; reset and train_more act on the main model
  void start_training();
  void pause_training();
  void reset_training();
  void save_checkpoint(const std::string& path) const;  // the main model; throws Error

  // ---- the viewport's samples (of the viewed slot)
  std::shared_ptr<const SampleView> sample() const { return sampling_->latest(); }
  /// The newest full-resolution sample (exports use it: a coarse first pass may be newer).
  std::shared_ptr<const SampleView> full_sample() const;
  double sampling_progress() const { return sampling_->progress(); }
  bool sampling_busy() const { return sampling_->busy() || resample_pending_; }
  /// True when the newest full-resolution sample has the current sampling settings and a
  /// viewed model at least as new as `min_version` (view_version(); a training model keeps
  /// changing meanwhile).
  bool sample_current(uint64_t min_version) const;

  // ---- the W2 sweep (of the main model)
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
  struct Data {
    Points data = Points(2, 0), eval_x = Points(2, 0);
  };
  static Data make_data(const Experiment& e);  // throws Error
  ModelSlot::EvalInputs eval_inputs(const Experiment& e) const;
  std::unique_ptr<ModelSlot> make_slot(const Experiment& e, size_t k, const Points& data,
                                       const Points& eval_x, bool train) const;  // throws Error
  void rebuild_compared(Experiment& e, bool keep_unchanged, bool train);  // errors → error_
  bool view_model_changed();
  void submit_sample(bool progressive = true);
  void log_timings();  // DIFFPATH_VERBOSE=1: one stderr line per result (tests, benchmarks)

  Experiment exp_;
  Points data_ = Points(2, 0);
  Points eval_x_ = Points(2, 0);
  std::vector<std::unique_ptr<ModelSlot>> slots_;   // never empty after construction

  std::unique_ptr<SamplingJob> sampling_;
  std::unique_ptr<W2Job> w2_;
  Experiment sampled_exp_;          // the experiment of the last submitted sample
  bool resample_pending_ = false;   // the viewed model changed: sample again when idle
  std::shared_ptr<const SampleView> full_sample_;

  size_t view_index_ = 0;
  uint64_t view_version_ = 0;
  ScoreModelPtr seen_view_model_;   // the viewed model at the last check

  std::string error_;
  bool verbose_ = false;
  uint64_t logged_sample_ = 0;
  std::vector<uint64_t> logged_evals_;
};

}  // namespace diffpath::gui
