#pragma once
// Training score networks by denoising score matching (DESIGN §1.2):
//   L(θ) = E_t E_{x₀,z} [ g(t)² ‖s_θ(α x₀ + σ z, t) + z/σ‖² ],
// t uniform on the 1000-point grid in [Tmin, Tmax] (drawn per sample), Adam.
//
// Three layers:
//   dsm_loss            the loss and its hand-written gradient on a fixed batch, in double
//                       (the reference the tests check against finite differences);
//   DsmTrainer          synchronous training: one Adam step per call, in float, batch split
//                       over threads; remembers a "last good" state and rolls back to it when
//                       a step produces a non-finite loss or parameters, or a loss its own
//                       running statistics call a blow-up (LossMonitor); stops with an Error
//                       after repeated failures;
//   BackgroundTrainer   a DsmTrainer owned by its own thread, with start / pause / resume /
//                       stop / reset, a status readable at any time, and immutable model
//                       snapshots (shared_ptr<const Mlp>) published every K steps or M ms.
//
// Precision: training runs entirely in float (parameters, Adam moments, activations), as
// PyTorch does by default: float GEMMs are twice as fast as double ones, and an Adam step of
// size ~lr = 1e-3 on weights of size ~0.1 is ~1e4 float ulps, so nothing is lost to
// rounding. Snapshots convert the parameters to MlpParams (double) for the evaluators.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "diffpath/mlp.hpp"
#include "diffpath/rng.hpp"
#include "diffpath/schedule.hpp"

namespace diffpath {

/// Number of points of the time grid the loss samples t from (DESIGN §1.2).
inline constexpr int kTrainTimeGrid = 1000;

/// The k-th point of the training time grid, t_k = Tmin + k (Tmax − Tmin) / 999.
double train_grid_time(const Schedule& schedule, int k);

struct TrainConfig {
  /// The data set: a make_dataset spec. It is recorded in checkpoints, drawn from when
  /// `data` is empty (n_data points, data_seed) and when fresh_samples is set.
  std::string data_spec = "swissroll";
  /// The training points (d × n). Empty: make_dataset(data_spec, n_data, data_seed). Set it
  /// for user-drawn or loaded points (then data_spec is only a label, e.g. "custom").
  Points data;
  int n_data = 3000;
  uint64_t data_seed = 0;

  Schedule schedule = Schedule::simple();
  int batch = 512;
  double lr = 1e-3;
  std::vector<int> hidden = {128, 128, 128};
  Activation activation = Activation::Swish;
  uint64_t seed = 0;          // initial weights (stream_seed(seed, 1)) and batches/t/z
  int threads = 0;            // 0 = default_threads(); the batch is split over threads
  /// true: x₀ are fresh draws of data_spec every step (needs a generator, not csv:/custom).
  /// false: the paper's protocol, shuffled mini-batches over a fixed set (epoch = one pass;
  /// the last batch of an epoch holds the remainder, like PyTorch's DataLoader).
  bool fresh_samples = false;
  /// Optional starting weights (e.g. a loaded checkpoint to fine-tune); null: a fresh
  /// LeCun-normal network. When set, its architecture overrides hidden and activation.
  std::shared_ptr<const MlpParams> initial;

  // Background trainer only.
  int64_t max_steps = 0;              // stop ("finished") after this many steps; 0 = never
  int snapshot_every_steps = 500;     // publish a snapshot every K steps ...
  int snapshot_every_ms = 500;        // ... or every M milliseconds, whichever comes first
  int nice = 0;                       // > 0: the training thread yields the cores (parallel.hpp;
                                      // applied when the thread starts)
};

/// Adam's state over one flat parameter vector: first and second moments and the step count.
/// A plain value, so saving and restoring it (rollback) is a copy.
struct AdamState {
  Eigen::VectorXf m, v;
  int64_t t = 0;
};

struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

/// One Adam update in PyTorch's bias-corrected form:
///   m ← β1 m + (1−β1) g,  v ← β2 v + (1−β2) g²,  t ← t + 1,
///   p ← p − lr · (m / (1−β1^t)) / (√(v / (1−β2^t)) + ε).
/// The state is (re)sized to zero on first use.
void adam_step(Eigen::Ref<Eigen::VectorXf> params, const Eigen::Ref<const Eigen::VectorXf>& grad,
               AdamState& state, const AdamOptions& options);

/// The DSM loss on a fixed batch: x₀ (d × n), t (n), z (d × n),
///   L = (1/n) Σ_j g(t_j)² ‖s_θ(α_j x₀_j + σ_j z_j, t_j) + z_j/σ_j‖²,
/// and, when `gradient` is non-null, dL/dθ with the shapes of `params` (hand-written backward
/// pass). Double precision throughout; DsmTrainer runs the same code in float.
double dsm_loss(const MlpParams& params, const Schedule& schedule, const Points& x0, const Vec& t,
                const Points& z, MlpParams* gradient = nullptr);

/// Tells a training blow-up from the noise of batch losses, from the run's own statistics: an
/// exponential moving average (over the last ~50 accepted steps) of log(loss) and of its
/// absolute deviation. A loss is rejected when log(loss) exceeds that average by more than
/// max(log 10, 8 deviations) — a batch ten times worse than the recent ones and beyond anything
/// the run's noise produced — or when the average itself has climbed tenfold above the lowest
/// it reached after its first 50 steps (a slow climb). Finite blow-ups (lr = 10: loss 29 →
/// 3e8) are caught as surely as NaN. A plain value, saved and restored with the rollback state.
class LossMonitor {
 public:
  /// Judges a finite loss; an accepted one updates the statistics.
  bool accept(double loss);
  /// The typical recent loss, exp(average log loss); NaN before the first loss.
  double level() const;

 private:
  double mean_ = 0.0, deviation_ = 0.0;
  double lowest_ = 0.0;  // lowest mean once warm (count_ ≥ kWindow)
  int64_t count_ = 0;
};

namespace detail {
/// Where each layer lives in a flat parameter vector: W_l (out × in, column-major), then b_l.
struct NetLayout {
  std::vector<int> widths;             // d+1, hidden..., d
  std::vector<int64_t> w_off, b_off;
  int64_t size = 0;
  explicit NetLayout(std::vector<int> widths);
  int layers() const { return int(widths.size()) - 1; }
};
template <class S> struct DsmWorkspace;  // per-thread buffers (trainer.cpp)
}  // namespace detail

/// Synchronous DSM training with Adam. Not thread-safe: one thread drives it.
class DsmTrainer {
 public:
  /// Validates the config (throws Error with a one-line reason), makes the data set and the
  /// initial network (MlpParams::init with stream_seed(seed, 1)). `initial` (optional, else
  /// config.initial) continues from given weights instead; its architecture then overrides
  /// hidden/activation.
  explicit DsmTrainer(TrainConfig config, const MlpParams* initial = nullptr);
  ~DsmTrainer();
  DsmTrainer(const DsmTrainer&) = delete;
  DsmTrainer& operator=(const DsmTrainer&) = delete;

  /// One Adam step on the next mini-batch; returns its loss (before the update). If the loss,
  /// the gradient or the updated parameters are not finite, or the LossMonitor rejects the
  /// loss, the step is undone by rolling back to the last good state (see mark_good), the
  /// learning rate is halved, rollbacks() grows, last_message() says what happened, and NaN
  /// is returned. After kMaxFailures rollbacks without getting past the good state, step()
  /// throws Error (one line: how often, from which step, the last loss) — with the trainer
  /// left at that good state, so params() is the model to keep. The count starts again
  /// after the throw: calling step() again retries at the lowered learning rate.
  double step();
  static constexpr int kMaxFailures = 10;  // the lr is then 1024× lower

  /// The loss (and gradient) on a given batch with the current parameters, computed by the
  /// float training path exactly as step() does (for tests and validation losses).
  double loss_and_gradient(const Points& x0, const Vec& t, const Points& z,
                           MlpParams* gradient = nullptr);

  /// The current parameters in double (a fresh copy).
  MlpParams params() const;
  const TrainConfig& config() const { return config_; }
  const Points& data() const { return data_; }
  int dim() const { return dim_; }
  int64_t steps_done() const { return steps_; }
  /// Passes over the training set so far (fractional), steps × batch / n for fresh samples.
  double epochs_done() const;
  /// Steps per epoch: ceil(n / batch) for a fixed set, 1 for fresh samples.
  int64_t steps_per_epoch() const;
  double lr() const { return adam_options_.lr; }
  void set_lr(double lr);  // throws Error unless lr > 0 and finite
  int threads() const { return threads_; }
  /// Multiply–add count × 2 of the GEMMs of one full-batch step (forward and backward).
  double flops_per_step() const;

  /// Proposes the current parameters, Adam state and step count as the rollback point. It
  /// becomes the rollback point when the next step's loss — computed on exactly these
  /// parameters — is accepted, so a rollback never returns to a state that had already blown
  /// up. The initial state is the first rollback point; the background trainer calls this
  /// with every published snapshot. Ignored (returns false) if the parameters are not finite.
  bool mark_good();
  int64_t rollbacks() const { return rollbacks_; }
  const std::string& last_message() const { return message_; }

  /// Test hook: sets one weight to NaN, so the next step diverges.
  void poison_for_testing();

 private:
  struct State {
    Eigen::VectorXf theta;
    AdamState adam;
    int64_t steps = 0;
    LossMonitor monitor;
  };
  int next_batch();
  double run_batch(int n, bool want_grad);
  double rollback(int64_t failed_step, double loss);

  TrainConfig config_;
  int dim_ = 0;
  detail::NetLayout layout_;
  Points data_;                         // d × n (double, as given)
  Eigen::MatrixXf data_f_;              // float copy
  std::vector<int> order_;              // shuffled indices of the current epoch
  Eigen::VectorXf theta_, grad_;        // flat parameters and gradient (float)
  AdamState adam_;
  AdamOptions adam_options_;
  int64_t steps_ = 0, cursor_ = 0, draws_ = 0;
  int threads_ = 1;
  Rng rng_;
  // The current batch (float): input (d+1 × B), target −z/σ (d × B), weight g² (B).
  Eigen::MatrixXf batch_in_, batch_target_;
  Eigen::VectorXf batch_weight_;
  Eigen::VectorXf grid_alpha_, grid_sigma_, grid_g2_;
  std::vector<std::unique_ptr<detail::DsmWorkspace<float>>> work_;
  LossMonitor monitor_;
  State good_, candidate_;              // candidate_: proposed by mark_good, not yet verified
  bool has_candidate_ = false;
  int failures_ = 0;                    // rollbacks since the good state last advanced
  int64_t rollbacks_ = 0;
  std::string message_;
};

enum class TrainerState { Idle, Running, Paused, Finished, Stopped, Failed };
const char* trainer_state_name(TrainerState s);

/// One point of the loss history: mean batch loss over the steps since the previous point.
struct LossPoint {
  int64_t step = 0;
  double loss = 0.0;
};

struct TrainerStatus {
  TrainerState state = TrainerState::Idle;
  int64_t steps = 0;
  int64_t max_steps = 0;
  double epochs = 0.0;
  double last_loss = 0.0;        // batch loss of the last step
  double smoothed_loss = 0.0;    // exponential moving average over ~100 steps
  double steps_per_second = 0.0;
  double lr = 0.0;
  int64_t rollbacks = 0;
  uint64_t snapshot_version = 0;
  uint64_t generation = 0;       // grows with every reset (new config / data)
  /// Last event: rollback, error, finished. State Failed: "failed: <reason>" — training
  /// stopped (e.g. it kept diverging: the snapshot is then the last good model) until
  /// start() retries, or reset().
  std::string message;
  /// Downsampled history, at most ~2048 points: each point averages `history_stride` steps;
  /// when the history fills up, neighbouring points are merged and the stride doubles.
  std::vector<LossPoint> history;
  int64_t history_stride = 1;
};

/// An immutable published model and where it came from.
struct ModelSnapshot {
  std::shared_ptr<const Mlp> model;
  uint64_t version = 0;          // strictly increasing over the trainer's lifetime
  uint64_t generation = 0;       // which reset it belongs to
  int64_t step = 0;
};

/// Trains in its own thread. All methods are thread-safe and return quickly: commands are
/// applied by the training thread between steps, the status and the snapshot are small
/// copies under a mutex that is never held during a step.
class BackgroundTrainer {
 public:
  /// Builds the model (throws Error on a bad config) and publishes snapshot version 1 of the
  /// untrained network. Training does not start until start().
  explicit BackgroundTrainer(TrainConfig config);
  ~BackgroundTrainer();  // stop()
  BackgroundTrainer(const BackgroundTrainer&) = delete;
  BackgroundTrainer& operator=(const BackgroundTrainer&) = delete;

  /// Starts or continues training (from Idle, Paused, Stopped or Finished with a higher
  /// max_steps); launches the thread if needed.
  void start();
  void pause();
  void resume() { start(); }
  /// Stops training, publishes a final snapshot and joins the thread. The model is kept;
  /// start() continues it.
  void stop();
  /// Replaces the config (schedule, data, architecture...) and restarts from step 0 with a
  /// fresh network. The new config is validated first (throws Error and changes nothing on a
  /// bad one). Keeps running if it was running.
  void reset(TrainConfig config);
  void set_lr(double lr);
  void set_max_steps(int64_t max_steps);
  /// Called on the training thread when max_steps is reached (after the final snapshot).
  void set_on_finished(std::function<void()> callback);
  /// Test hook: poisons a weight with NaN before the next step (exercises rollback).
  void inject_nan_for_testing();

  TrainerStatus status() const;
  /// Status without the loss history (cheaper, for per-frame polling).
  TrainerStatus status_brief() const;
  ModelSnapshot snapshot() const;
  uint64_t snapshot_version() const;
  TrainConfig config() const;

 private:
  void run();
  void train_one_step(DsmTrainer& trainer, int64_t max_steps);
  void publish(DsmTrainer& trainer);
  void publish_model(const DsmTrainer& trainer);
  void clear_progress_locked(const DsmTrainer& trainer);
  void record_loss_locked(int64_t step, double loss);
  void truncate_history_locked(int64_t step);

  std::mutex control_mu_;               // serialises start / stop / reset (thread lifetime)
  mutable std::mutex mu_;               // commands, status, history, snapshot
  std::condition_variable cv_;
  std::thread thread_;
  bool thread_running_ = false;
  bool stop_requested_ = false;
  std::unique_ptr<DsmTrainer> trainer_;       // owned by the training thread while it runs
  std::unique_ptr<DsmTrainer> next_trainer_;  // a reset waiting to be picked up
  TrainConfig config_;
  double pending_lr_ = 0.0;
  bool pending_poison_ = false;
  std::function<void()> on_finished_;
  TrainerStatus status_;                // history kept apart, in history_
  std::vector<LossPoint> history_;
  double hist_sum_ = 0.0;               // the history point being accumulated
  int64_t hist_count_ = 0;
  ModelSnapshot snapshot_;

  // Training-thread bookkeeping (touched only by the thread that owns trainer_).
  int64_t last_publish_step_ = 0;
  std::chrono::steady_clock::time_point last_publish_time_, rate_time_;
  int64_t rate_steps_ = 0;
};

}  // namespace diffpath
