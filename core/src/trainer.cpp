// Denoising score matching (trainer.hpp, DESIGN §1.2).
//
// Index
//   adam_step ............ Adam in float, bias corrections in double
//   DsmWorkspace ......... one block's forward + backward pass over the flat parameters
//                          (activations: activation.hpp)
//   dsm_loss ............. the loss and its gradient on a fixed batch, in double
//   DsmTrainer ........... batches on the time grid, steps, rollback to the last good state
//   BackgroundTrainer .... the trainer thread: start/pause/stop/reset, snapshots, loss history
#include "diffpath/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <utility>

#include "activation.hpp"
#include "diffpath/dataset.hpp"
#include "diffpath/parallel.hpp"

namespace diffpath {

template <class S>
using MatS = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
template <class S>
using VecS = Eigen::Matrix<S, Eigen::Dynamic, 1>;

double train_grid_time(const Schedule& schedule, int k) {
  return schedule.t_min + (schedule.t_max - schedule.t_min) * k / (kTrainTimeGrid - 1);
}

void adam_step(Eigen::Ref<Eigen::VectorXf> params, const Eigen::Ref<const Eigen::VectorXf>& grad,
               AdamState& state, const AdamOptions& o) {
  if (state.m.size() != params.size()) {
    state.m = Eigen::VectorXf::Zero(params.size());
    state.v = Eigen::VectorXf::Zero(params.size());
    state.t = 0;
  }
  ++state.t;
  const float b1 = float(o.beta1), b2 = float(o.beta2);
  state.m.array() = b1 * state.m.array() + (1 - b1) * grad.array();
  state.v.array() = b2 * state.v.array() + (1 - b2) * grad.array().square();
  // Bias corrections in double: β2^t is 1 − 1e-3 t for small t, too close to 1 for float.
  const double bc1 = 1.0 - std::pow(o.beta1, double(state.t));
  const double bc2 = 1.0 - std::pow(o.beta2, double(state.t));
  const float step = float(o.lr / bc1), inv_sqrt_bc2 = float(1.0 / std::sqrt(bc2));
  const float eps = float(o.eps);
  params.array() -= step * state.m.array() / (state.v.array().sqrt() * inv_sqrt_bc2 + eps);
}

namespace {
constexpr int64_t kMonitorWindow = 50;
const double kLog10 = std::log(10.0);
}  // namespace

bool LossMonitor::accept(double loss) {
  const double x = std::log(std::max(loss, 1e-300));
  if (count_ > 0) {
    if (x > mean_ + std::max(kLog10, 8.0 * deviation_)) return false;  // a sudden blow-up
    if (count_ >= kMonitorWindow && mean_ > lowest_ + kLog10) return false;  // a slow climb
  }
  const double w = 1.0 / double(std::min(count_ + 1, kMonitorWindow));
  deviation_ = count_ == 0 ? 0.0 : deviation_ + w * (std::abs(x - mean_) - deviation_);
  mean_ = count_ == 0 ? x : mean_ + w * (x - mean_);
  ++count_;
  if (count_ >= kMonitorWindow) lowest_ = count_ == kMonitorWindow ? mean_ : std::min(lowest_, mean_);
  return true;
}

double LossMonitor::level() const {
  return count_ == 0 ? std::numeric_limits<double>::quiet_NaN() : std::exp(mean_);
}

namespace detail {

NetLayout::NetLayout(std::vector<int> w) : widths(std::move(w)) {
  for (int l = 0; l < layers(); ++l) {
    w_off.push_back(size);
    size += int64_t(widths[l + 1]) * widths[l];
    b_off.push_back(size);
    size += widths[l + 1];
  }
}

/// Per-thread buffers of one forward + backward pass over a block of batch columns.
template <class S>
struct DsmWorkspace {
  std::vector<MatS<S>> H;  // H[l], l ≥ 1: activated output of layer l−1 = input of layer l
  std::vector<MatS<S>> D;  // D[l]: derivative of the activation that produced H[l]
  MatS<S> out, delta, delta_next;
  VecS<S> grad;

  void reserve(const NetLayout& lay, int n) {
    const int L = lay.layers();
    if (int(H.size()) == L && out.cols() >= n) return;
    H.assign(L, MatS<S>());
    D.assign(L, MatS<S>());
    int max_width = 0;
    for (int l = 1; l < L; ++l) {
      H[l].resize(lay.widths[l], n);
      D[l].resize(lay.widths[l], n);
      max_width = std::max(max_width, lay.widths[l]);
    }
    out.resize(lay.widths[L], n);
    max_width = std::max(max_width, lay.widths[L]);
    delta.resize(max_width, n);
    delta_next.resize(max_width, n);
    grad.resize(lay.size);
  }

  /// The loss Σ_j w_j ‖s(input_j) − target_j‖² · scale over this block of columns and, when
  /// `want_grad`, its gradient with respect to theta in `grad` (overwritten).
  double run(const NetLayout& lay, Activation act, const S* theta,
             const Eigen::Ref<const MatS<S>>& input, const Eigen::Ref<const MatS<S>>& target,
             const Eigen::Ref<const VecS<S>>& weight, S scale, bool want_grad) {
    const int n = int(input.cols()), L = lay.layers();
    reserve(lay, n);
    auto W = [&](int l) {
      return Eigen::Map<const MatS<S>>(theta + lay.w_off[l], lay.widths[l + 1], lay.widths[l]);
    };
    auto b = [&](int l) { return Eigen::Map<const VecS<S>>(theta + lay.b_off[l], lay.widths[l + 1]); };

    // Forward. The K = d+1 first layer is a small GEMM; Eigen handles it well enough.
    for (int l = 0; l < L; ++l) {
      auto A = l + 1 < L ? H[l + 1].leftCols(n) : out.leftCols(n);
      if (l == 0)
        A.noalias() = W(0) * input;
      else
        A.noalias() = W(l) * H[l].leftCols(n);
      A.colwise() += b(l);
      if (l + 1 < L) activation::apply_with_derivative(act, A, D[l + 1].leftCols(n));
    }

    // Residual r = s − target (target = −z/σ), loss Σ w ‖r‖².
    auto R = out.leftCols(n);
    R -= target;
    double loss = 0.0;
    for (int j = 0; j < n; ++j) loss += double(weight[j]) * double(R.col(j).squaredNorm());
    loss *= double(scale);
    if (!want_grad) return loss;

    // Backward: δ_L = 2 scale w_j r_j; ∂W_l = δ_l h_lᵀ, ∂b_l = Σ_j δ_l; δ_{l−1} = (W_lᵀ δ_l) ⊙ h'.
    int rows = lay.widths[L];
    delta.topLeftCorner(rows, n).array() =
        R.array().rowwise() * (S(2) * scale * weight.transpose().array());
    for (int l = L - 1; l >= 0; --l) {
      auto dl = delta.topLeftCorner(rows, n);
      Eigen::Map<MatS<S>> gW(grad.data() + lay.w_off[l], lay.widths[l + 1], lay.widths[l]);
      Eigen::Map<VecS<S>> gb(grad.data() + lay.b_off[l], lay.widths[l + 1]);
      if (l == 0)
        gW.noalias() = dl * input.transpose();
      else
        gW.noalias() = dl * H[l].leftCols(n).transpose();
      gb = dl.rowwise().sum();
      if (l == 0) break;
      auto next = delta_next.topLeftCorner(lay.widths[l], n);
      next.noalias() = W(l).transpose() * dl;
      next.array() *= D[l].leftCols(n).array();
      std::swap(delta, delta_next);
      rows = lay.widths[l];
    }
    return loss;
  }
};

}  // namespace detail

namespace {

template <class S>
VecS<S> flatten(const MlpParams& p, const detail::NetLayout& lay) {
  VecS<S> theta(lay.size);
  for (int l = 0; l < lay.layers(); ++l) {
    Eigen::Map<MatS<S>>(theta.data() + lay.w_off[l], lay.widths[l + 1], lay.widths[l]) =
        p.W[l].cast<S>();
    Eigen::Map<VecS<S>>(theta.data() + lay.b_off[l], lay.widths[l + 1]) = p.b[l].cast<S>();
  }
  return theta;
}

template <class S>
void unflatten(const VecS<S>& theta, const detail::NetLayout& lay, MlpParams& p) {
  p.W.resize(lay.layers());
  p.b.resize(lay.layers());
  for (int l = 0; l < lay.layers(); ++l) {
    p.W[l] = Eigen::Map<const MatS<S>>(theta.data() + lay.w_off[l], lay.widths[l + 1],
                                       lay.widths[l]).template cast<double>();
    p.b[l] = Eigen::Map<const VecS<S>>(theta.data() + lay.b_off[l], lay.widths[l + 1])
                 .template cast<double>();
  }
}

/// Layer widths of `p`, checking that the shapes chain (d+1 → ... → d).
std::vector<int> checked_widths(const MlpParams& p) {
  if (p.dim < 1 || p.W.empty() || p.W.size() != p.b.size())
    throw Error("network: needs dim ≥ 1 and as many bias vectors as weight matrices");
  std::vector<int> w{p.dim + 1};
  for (size_t l = 0; l < p.W.size(); ++l) {
    if (p.W[l].cols() != w.back() || p.b[l].size() != p.W[l].rows() || p.W[l].rows() < 1)
      throw Error("network: layer " + std::to_string(l) + " has inconsistent shapes");
    w.push_back(int(p.W[l].rows()));
  }
  if (w.back() != p.dim) throw Error("network: the output width must equal the dimension");
  return w;
}

std::string format_lr(double lr) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", lr);
  return buf;
}

}  // namespace

double dsm_loss(const MlpParams& params, const Schedule& schedule, const Points& x0, const Vec& t,
                const Points& z, MlpParams* gradient) {
  const detail::NetLayout lay(checked_widths(params));
  const int d = params.dim, n = int(x0.cols());
  if (x0.rows() != d || z.rows() != d || z.cols() != n || t.size() != n || n < 1)
    throw Error("dsm_loss: x0, z must be d × n and t of length n, n ≥ 1");
  MatS<double> input(d + 1, n), target(d, n);
  VecS<double> weight(n);
  for (int j = 0; j < n; ++j) {
    const double a = schedule.alpha(t[j]), s = schedule.sigma(t[j]);
    input.col(j).head(d) = a * x0.col(j) + s * z.col(j);
    input(d, j) = t[j];
    target.col(j) = -z.col(j) / s;
    weight[j] = schedule.g2(t[j]);
  }
  const VecS<double> theta = flatten<double>(params, lay);
  detail::DsmWorkspace<double> work;
  const double loss = work.run(lay, params.activation, theta.data(), input, target, weight,
                               1.0 / n, gradient != nullptr);
  if (gradient) {
    gradient->dim = params.dim;
    gradient->activation = params.activation;
    unflatten<double>(work.grad, lay, *gradient);
  }
  return loss;
}

// ---------------------------------------------------------------------------------------------
// DsmTrainer

namespace {

void validate(const TrainConfig& c) {
  auto fail = [](const std::string& what) { throw Error("training: " + what); };
  if (c.batch < 1) fail("batch must be ≥ 1");
  if (!(c.lr > 0) || !std::isfinite(c.lr)) fail("learning rate must be positive and finite");
  if (c.hidden.empty()) fail("the network needs at least one hidden layer");
  for (int h : c.hidden)
    if (h < 1 || h > 65536) fail("hidden widths must be in 1..65536");
  if (c.threads < 0) fail("threads must be ≥ 0");
  if (c.max_steps < 0) fail("max_steps must be ≥ 0");
  if (c.snapshot_every_steps < 0 || c.snapshot_every_ms < 0) fail("snapshot periods must be ≥ 0");
  if (c.data.size() == 0 && c.n_data < 1) fail("n_data must be ≥ 1");
  c.schedule.validate();
}

}  // namespace

DsmTrainer::DsmTrainer(TrainConfig config, const MlpParams* initial)
    : config_(std::move(config)), layout_(std::vector<int>{}), rng_(stream_seed(config_.seed, 2)) {
  validate(config_);
  if (config_.fresh_samples && config_.data.size() == 0 &&
      config_.data_spec.rfind("csv:", 0) == 0)
    throw Error("training: fresh samples need a generated data set, not " + config_.data_spec);
  if (config_.fresh_samples && config_.data.size() != 0)
    throw Error("training: fresh samples draw from the data spec; do not also pass points");
  data_ = config_.data.size() != 0
              ? config_.data
              : make_dataset(config_.data_spec, config_.fresh_samples ? config_.batch
                                                                      : config_.n_data,
                             config_.data_seed)
                    .points;
  if (data_.cols() < 1 || data_.rows() < 1) throw Error("training: the data set is empty");
  check_data_points(data_, "training data '" + config_.data_spec + "'");
  dim_ = int(data_.rows());
  data_f_ = data_.cast<float>();
  config_.data = Points();  // the copy in data_ is the one used
  if (!config_.fresh_samples) config_.n_data = int(data_.cols());

  if (!initial) initial = config_.initial.get();
  MlpParams p = initial ? *initial
                        : MlpParams::init(dim_, config_.hidden, config_.activation,
                                          stream_seed(config_.seed, 1));
  if (p.dim != dim_)
    throw Error("training: the network is " + std::to_string(p.dim) + "-dimensional, the data " +
                std::to_string(dim_) + "-dimensional");
  if (!p.all_finite()) throw Error("training: the initial network has non-finite weights");
  layout_ = detail::NetLayout(checked_widths(p));
  config_.hidden = p.hidden();
  config_.activation = p.activation;
  theta_ = flatten<float>(p, layout_);
  grad_.setZero(layout_.size);
  adam_options_.lr = config_.lr;

  threads_ = config_.threads > 0 ? config_.threads : default_threads();
  // Below ~64 columns per thread the GEMMs get too thin for the split to pay off.
  threads_ = std::clamp(std::min(threads_, config_.batch / 64), 1, 64);
  for (int i = 0; i < threads_; ++i)
    work_.push_back(std::make_unique<detail::DsmWorkspace<float>>());

  grid_alpha_.resize(kTrainTimeGrid);
  grid_sigma_.resize(kTrainTimeGrid);
  grid_g2_.resize(kTrainTimeGrid);
  for (int k = 0; k < kTrainTimeGrid; ++k) {
    const double t = train_grid_time(config_.schedule, k);
    grid_alpha_[k] = float(config_.schedule.alpha(t));
    grid_sigma_[k] = float(config_.schedule.sigma(t));
    grid_g2_[k] = float(config_.schedule.g2(t));
  }
  order_.resize(data_.cols());
  std::iota(order_.begin(), order_.end(), 0);
  batch_in_.resize(dim_ + 1, config_.batch);
  batch_target_.resize(dim_, config_.batch);
  batch_weight_.resize(config_.batch);
  good_ = {theta_, adam_, steps_, monitor_};  // the first rollback point
}

DsmTrainer::~DsmTrainer() = default;

int64_t DsmTrainer::steps_per_epoch() const {
  if (config_.fresh_samples) return 1;
  return (int64_t(data_.cols()) + config_.batch - 1) / config_.batch;
}

double DsmTrainer::epochs_done() const {
  if (config_.fresh_samples) return double(steps_) * config_.batch / config_.n_data;
  return double(steps_) / double(steps_per_epoch());
}

void DsmTrainer::set_lr(double lr) {
  if (!(lr > 0) || !std::isfinite(lr)) throw Error("training: learning rate must be positive");
  adam_options_.lr = lr;
}

double DsmTrainer::flops_per_step() const {
  // Forward W·h and backward ∂W = δ hᵀ for every layer, Wᵀ δ for all but the first.
  double macs = 0.0;
  for (int l = 0; l < layout_.layers(); ++l) {
    const double m = double(layout_.widths[l + 1]) * layout_.widths[l];
    macs += (l == 0 ? 2.0 : 3.0) * m;
  }
  return 2.0 * macs * config_.batch;
}

MlpParams DsmTrainer::params() const {
  MlpParams p;
  p.dim = dim_;
  p.activation = config_.activation;
  unflatten<float>(theta_, layout_, p);
  return p;
}

/// Fills batch_in_ / batch_target_ / batch_weight_ with the next mini-batch; returns its size.
int DsmTrainer::next_batch() {
  const int d = dim_;
  int n = config_.batch;
  const float* x0 = nullptr;
  Eigen::MatrixXf fresh;
  if (config_.fresh_samples) {
    fresh = make_dataset(config_.data_spec, n, stream_seed(config_.seed, 3, uint64_t(draws_)))
                .points.cast<float>();
    if (fresh.rows() != d || fresh.cols() != n)
      throw Error("training: the data set returned a batch of the wrong shape");
    x0 = fresh.data();
  } else {
    const int total = int(order_.size());
    if (cursor_ == 0)  // a new epoch: Fisher–Yates shuffle
      for (int i = total - 1; i > 0; --i) std::swap(order_[i], order_[rng_.next() % uint64_t(i + 1)]);
    n = std::min<int>(n, total - int(cursor_));
  }
  ++draws_;
  for (int j = 0; j < n; ++j) {
    const float* x = x0 ? x0 + int64_t(j) * d : data_f_.data() + int64_t(order_[cursor_ + j]) * d;
    const int k = int(rng_.next() % kTrainTimeGrid);
    const float a = grid_alpha_[k], s = grid_sigma_[k];
    for (int i = 0; i < d; ++i) {
      const float z = float(rng_.normal());
      batch_in_(i, j) = a * x[i] + s * z;
      batch_target_(i, j) = -z / s;
    }
    batch_in_(d, j) = float(train_grid_time(config_.schedule, k));
    batch_weight_[j] = grid_g2_[k];
  }
  if (!config_.fresh_samples) {
    cursor_ += n;
    if (cursor_ >= int64_t(order_.size())) cursor_ = 0;
  }
  return n;
}

/// Loss and gradient (into grad_) of the first n columns of the current batch; the columns
/// are split into contiguous blocks, one per thread, and the block gradients summed.
double DsmTrainer::run_batch(int n, bool want_grad) {
  const int k = std::clamp(std::min(threads_, n / 32), 1, threads_);
  const float scale = 1.0f / float(n);
  std::vector<double> losses(k, 0.0);
  auto block = [&](int c) {
    const int begin = int(int64_t(n) * c / k), end = int(int64_t(n) * (c + 1) / k);
    losses[c] = work_[c]->run(layout_, config_.activation, theta_.data(),
                              batch_in_.middleCols(begin, end - begin),
                              batch_target_.middleCols(begin, end - begin),
                              batch_weight_.segment(begin, end - begin), scale, want_grad);
  };
  if (k == 1)
    block(0);
  else
    parallel_for(k, k, [&](int begin, int end) {
      for (int c = begin; c < end; ++c) block(c);
    });
  if (want_grad) {
    grad_ = work_[0]->grad;
    for (int c = 1; c < k; ++c) grad_ += work_[c]->grad;
  }
  return std::accumulate(losses.begin(), losses.end(), 0.0);
}

double DsmTrainer::step() {
  const int64_t this_step = steps_ + 1;
  const int n = next_batch();
  const double loss = run_batch(n, true);
  if (!std::isfinite(loss) || !grad_.allFinite()) return rollback(this_step, NAN);
  if (!monitor_.accept(loss)) return rollback(this_step, loss);
  if (has_candidate_ && candidate_.steps == steps_) {  // its loss passed: it is good
    good_ = std::move(candidate_);
    has_candidate_ = false;
    failures_ = 0;
  }
  adam_step(theta_, grad_, adam_, adam_options_);
  if (!theta_.allFinite()) return rollback(this_step, NAN);
  ++steps_;
  return loss;
}

double DsmTrainer::loss_and_gradient(const Points& x0, const Vec& t, const Points& z,
                                     MlpParams* gradient) {
  const int n = int(x0.cols());
  if (x0.rows() != dim_ || z.rows() != dim_ || z.cols() != n || t.size() != n || n < 1)
    throw Error("loss_and_gradient: x0, z must be d × n and t of length n, n ≥ 1");
  if (batch_in_.cols() < n) {  // the next step() only uses the first `batch` columns
    batch_in_.resize(dim_ + 1, n);
    batch_target_.resize(dim_, n);
    batch_weight_.resize(n);
  }
  for (int j = 0; j < n; ++j) {
    const double a = config_.schedule.alpha(t[j]), s = config_.schedule.sigma(t[j]);
    batch_in_.col(j).head(dim_) = (a * x0.col(j) + s * z.col(j)).cast<float>();
    batch_in_(dim_, j) = float(t[j]);
    batch_target_.col(j) = (-z.col(j) / s).cast<float>();
    batch_weight_[j] = float(config_.schedule.g2(t[j]));
  }
  const double loss = run_batch(n, gradient != nullptr);
  if (gradient) {
    gradient->dim = dim_;
    gradient->activation = config_.activation;
    unflatten<float>(grad_, layout_, *gradient);
  }
  return loss;
}

bool DsmTrainer::mark_good() {
  if (!theta_.allFinite()) return false;
  candidate_ = {theta_, adam_, steps_, monitor_};
  has_candidate_ = true;
  return true;
}

double DsmTrainer::rollback(int64_t failed_step, double loss) {
  theta_ = good_.theta;
  adam_ = good_.adam;
  steps_ = good_.steps;
  const double level = monitor_.level();
  monitor_ = good_.monitor;
  has_candidate_ = false;
  adam_options_.lr *= 0.5;
  ++rollbacks_;
  char why[96] = "";
  if (std::isfinite(loss)) std::snprintf(why, sizeof why, " (loss %.3g, recent %.3g)", loss, level);
  message_ = "diverged at step " + std::to_string(failed_step) + why + ": rolled back to step " +
             std::to_string(good_.steps) + ", lr → " + format_lr(adam_options_.lr);
  if (++failures_ < kMaxFailures) return std::numeric_limits<double>::quiet_NaN();
  failures_ = 0;
  throw Error("training diverged " + std::to_string(kMaxFailures) +
              " times without getting past step " + std::to_string(good_.steps) + " (last: " +
              message_ + "); stopped at the last good model");
}

void DsmTrainer::poison_for_testing() {
  theta_[layout_.w_off[0]] = std::numeric_limits<float>::quiet_NaN();
}

// ---------------------------------------------------------------------------------------------
// BackgroundTrainer

const char* trainer_state_name(TrainerState s) {
  switch (s) {
    case TrainerState::Idle: return "idle";
    case TrainerState::Running: return "running";
    case TrainerState::Paused: return "paused";
    case TrainerState::Finished: return "finished";
    case TrainerState::Stopped: return "stopped";
    case TrainerState::Failed: return "failed";
  }
  return "?";
}

namespace {
constexpr size_t kHistoryCap = 2048;
}  // namespace

BackgroundTrainer::BackgroundTrainer(TrainConfig config) {
  trainer_ = std::make_unique<DsmTrainer>(config);
  config_ = trainer_->config();
  auto model = std::make_shared<const Mlp>(trainer_->params(), "mlp");
  std::lock_guard lk(mu_);
  clear_progress_locked(*trainer_);
  snapshot_ = {std::move(model), 1, 0, 0};
  status_.snapshot_version = 1;
}

BackgroundTrainer::~BackgroundTrainer() { stop(); }

void BackgroundTrainer::clear_progress_locked(const DsmTrainer& trainer) {
  const TrainerState keep = status_.state;
  const uint64_t version = status_.snapshot_version, generation = status_.generation;
  status_ = TrainerStatus{};
  status_.state = keep;
  status_.snapshot_version = version;
  status_.generation = generation;
  status_.lr = trainer.lr();
  status_.max_steps = trainer.config().max_steps;
  history_.clear();
  hist_sum_ = 0.0;
  hist_count_ = 0;
}

void BackgroundTrainer::start() {
  std::lock_guard control(control_mu_);
  std::lock_guard lk(mu_);
  if (status_.state == TrainerState::Finished && status_.max_steps > 0 &&
      status_.steps >= status_.max_steps)
    return;  // nothing left to do until max_steps grows or a reset
  status_.state = TrainerState::Running;
  if (status_.message.rfind("failed", 0) == 0) status_.message.clear();
  if (!thread_running_) {
    thread_running_ = true;
    stop_requested_ = false;
    const auto now = std::chrono::steady_clock::now();
    last_publish_time_ = rate_time_ = now;
    last_publish_step_ = rate_steps_ = trainer_->steps_done();
    thread_ = std::thread(&BackgroundTrainer::run, this);
  }
  cv_.notify_all();
}

void BackgroundTrainer::pause() {
  std::lock_guard lk(mu_);
  if (status_.state == TrainerState::Running) {
    status_.state = TrainerState::Paused;
    status_.steps_per_second = 0.0;
  }
}

void BackgroundTrainer::stop() {
  std::lock_guard control(control_mu_);
  {
    std::lock_guard lk(mu_);
    if (status_.state == TrainerState::Running || status_.state == TrainerState::Paused) {
      status_.state = TrainerState::Stopped;
      status_.steps_per_second = 0.0;
    }
    if (!thread_running_) return;
    stop_requested_ = true;
  }
  cv_.notify_all();
  thread_.join();
  std::unique_ptr<DsmTrainer> retired;
  std::lock_guard lk(mu_);
  thread_running_ = false;
  stop_requested_ = false;
  if (next_trainer_) {  // a reset the thread had no time to adopt
    retired = std::move(trainer_);
    trainer_ = std::move(next_trainer_);
    last_publish_step_ = 0;
  }
}

void BackgroundTrainer::reset(TrainConfig config) {
  std::lock_guard control(control_mu_);
  auto trainer = std::make_unique<DsmTrainer>(std::move(config));  // throws on a bad config
  auto model = std::make_shared<const Mlp>(trainer->params(), "mlp");
  std::unique_ptr<DsmTrainer> old;
  std::lock_guard lk(mu_);
  config_ = trainer->config();
  ++status_.generation;
  clear_progress_locked(*trainer);
  if (status_.state == TrainerState::Finished || status_.state == TrainerState::Failed)
    status_.state = TrainerState::Paused;
  status_.message = "reset: " + config_.data_spec + ", " + config_.schedule.spec();
  snapshot_ = {std::move(model), snapshot_.version + 1, status_.generation, 0};
  status_.snapshot_version = snapshot_.version;
  pending_lr_ = 0.0;
  pending_poison_ = false;
  if (thread_running_) {
    next_trainer_ = std::move(trainer);  // the training thread adopts it between steps
    cv_.notify_all();
  } else {
    old = std::move(trainer_);
    trainer_ = std::move(trainer);
    last_publish_step_ = 0;
  }
}

void BackgroundTrainer::set_lr(double lr) {
  if (!(lr > 0) || !std::isfinite(lr)) throw Error("training: learning rate must be positive");
  std::lock_guard lk(mu_);
  pending_lr_ = lr;
  status_.lr = lr;
  if (!thread_running_) {
    trainer_->set_lr(lr);
    pending_lr_ = 0.0;
  }
  cv_.notify_all();
}

void BackgroundTrainer::set_max_steps(int64_t max_steps) {
  std::lock_guard lk(mu_);
  status_.max_steps = std::max<int64_t>(0, max_steps);
  config_.max_steps = status_.max_steps;
  if (status_.state == TrainerState::Finished &&
      (status_.max_steps == 0 || status_.steps < status_.max_steps))
    status_.state = TrainerState::Paused;
}

void BackgroundTrainer::set_on_finished(std::function<void()> callback) {
  std::lock_guard lk(mu_);
  on_finished_ = std::move(callback);
}

void BackgroundTrainer::inject_nan_for_testing() {
  std::lock_guard lk(mu_);
  pending_poison_ = true;
  cv_.notify_all();
}

TrainerStatus BackgroundTrainer::status_brief() const {
  std::lock_guard lk(mu_);
  return status_;
}

TrainerStatus BackgroundTrainer::status() const {
  std::lock_guard lk(mu_);
  TrainerStatus s = status_;
  s.history = history_;
  return s;
}

ModelSnapshot BackgroundTrainer::snapshot() const {
  std::lock_guard lk(mu_);
  return snapshot_;
}

uint64_t BackgroundTrainer::snapshot_version() const {
  std::lock_guard lk(mu_);
  return snapshot_.version;
}

TrainConfig BackgroundTrainer::config() const {
  std::lock_guard lk(mu_);
  return config_;
}

void BackgroundTrainer::run() {
  {
    std::lock_guard lk(mu_);
    lower_thread_priority(config_.nice);
  }
  for (;;) {
    std::unique_ptr<DsmTrainer> retired;  // destroyed outside the lock
    int64_t max_steps = 0;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] {
        return stop_requested_ || next_trainer_ || pending_poison_ || pending_lr_ > 0 ||
               status_.state == TrainerState::Running;
      });
      if (stop_requested_) break;
      if (next_trainer_) {
        retired = std::move(trainer_);
        trainer_ = std::move(next_trainer_);
        last_publish_step_ = rate_steps_ = 0;
        last_publish_time_ = rate_time_ = std::chrono::steady_clock::now();
      }
      if (pending_lr_ > 0) {
        trainer_->set_lr(pending_lr_);
        pending_lr_ = 0.0;
      }
      if (pending_poison_) {
        trainer_->poison_for_testing();
        pending_poison_ = false;
      }
      if (status_.state != TrainerState::Running) continue;
      max_steps = status_.max_steps;
    }
    try {
      train_one_step(*trainer_, max_steps);
    } catch (const std::exception& e) {
      std::lock_guard lk(mu_);
      if (!next_trainer_) {
        status_.state = TrainerState::Failed;
        status_.message = std::string("failed: ") + e.what();
      }
    }
  }
  if (trainer_->steps_done() != last_publish_step_) publish(*trainer_);
}

void BackgroundTrainer::publish(DsmTrainer& trainer) {
  if (trainer.mark_good()) publish_model(trainer);
}

void BackgroundTrainer::publish_model(const DsmTrainer& trainer) {
  auto model = std::make_shared<const Mlp>(trainer.params(), "mlp");
  last_publish_step_ = trainer.steps_done();
  last_publish_time_ = std::chrono::steady_clock::now();
  std::lock_guard lk(mu_);
  if (next_trainer_) return;  // a reset is pending: this model is already obsolete
  snapshot_ = {std::move(model), snapshot_.version + 1, status_.generation,
               trainer.steps_done()};
  status_.snapshot_version = snapshot_.version;
}

void BackgroundTrainer::train_one_step(DsmTrainer& trainer, int64_t max_steps) {
  using clock = std::chrono::steady_clock;
  if (max_steps > 0 && trainer.steps_done() >= max_steps) {  // max_steps lowered below steps
    std::lock_guard lk(mu_);
    if (!next_trainer_ && status_.state == TrainerState::Running) {
      status_.state = TrainerState::Finished;
      status_.steps_per_second = 0.0;
      status_.message = "finished: " + std::to_string(trainer.steps_done()) + " steps";
    }
    return;
  }
  const int64_t rollbacks_before = trainer.rollbacks();
  double loss = NAN;
  std::string failure;  // the trainer gave up: it stays at its last good state
  try {
    loss = trainer.step();
  } catch (const Error& e) {
    failure = e.what();
  }
  const bool rolled_back = trainer.rollbacks() != rollbacks_before;
  // The published model may be one that blew up since: replace it by the good state.
  if (rolled_back && last_publish_step_ != trainer.steps_done()) publish_model(trainer);
  const int64_t steps = trainer.steps_done();
  const bool finished = max_steps > 0 && steps >= max_steps;
  const auto now = clock::now();
  const TrainConfig& c = trainer.config();
  const bool due =
      (c.snapshot_every_steps > 0 && steps - last_publish_step_ >= c.snapshot_every_steps) ||
      (c.snapshot_every_ms > 0 &&
       now - last_publish_time_ >= std::chrono::milliseconds(c.snapshot_every_ms));
  if (!rolled_back && (due || finished)) publish(trainer);

  std::function<void()> on_finished;
  {
    std::lock_guard lk(mu_);
    if (next_trainer_) return;  // a reset is pending: this step belongs to the old model
    if (rolled_back) {
      status_.message = trainer.last_message();
      truncate_history_locked(steps);
      if (!failure.empty()) {
        status_.state = TrainerState::Failed;
        status_.steps_per_second = 0.0;
        status_.message = "failed: " + failure;
      }
    } else {
      status_.last_loss = loss;
      status_.smoothed_loss =
          steps <= 1 ? loss : status_.smoothed_loss + 0.01 * (loss - status_.smoothed_loss);
      record_loss_locked(steps, loss);
    }
    status_.steps = steps;
    status_.epochs = trainer.epochs_done();
    status_.lr = trainer.lr();
    status_.rollbacks = trainer.rollbacks();
    const double dt = std::chrono::duration<double>(now - rate_time_).count();
    if (dt >= 0.1) {
      status_.steps_per_second = std::max<int64_t>(0, steps - rate_steps_) / dt;
      rate_time_ = now;
      rate_steps_ = steps;
    }
    if (finished && status_.state == TrainerState::Running) {
      status_.state = TrainerState::Finished;
      status_.steps_per_second = 0.0;
      status_.message = "finished: " + std::to_string(steps) + " steps";
      on_finished = on_finished_;
    }
  }
  if (on_finished) on_finished();
}

void BackgroundTrainer::record_loss_locked(int64_t step, double loss) {
  hist_sum_ += loss;
  if (++hist_count_ < status_.history_stride) return;
  history_.push_back({step, hist_sum_ / double(hist_count_)});
  hist_sum_ = 0.0;
  hist_count_ = 0;
  if (history_.size() < kHistoryCap) return;
  // Full: merge neighbours (the size is even here) and average twice as many steps per point.
  for (size_t i = 0; i < history_.size() / 2; ++i)
    history_[i] = {history_[2 * i + 1].step,
                   0.5 * (history_[2 * i].loss + history_[2 * i + 1].loss)};
  history_.resize(history_.size() / 2);
  status_.history_stride *= 2;
}

void BackgroundTrainer::truncate_history_locked(int64_t step) {
  while (!history_.empty() && history_.back().step > step) history_.pop_back();
  hist_sum_ = 0.0;
  hist_count_ = 0;
}

}  // namespace diffpath
