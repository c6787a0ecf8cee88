#include "session.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "diffpath/checkpoint.hpp"
#include "diffpath/dataset.hpp"
#include "diffpath/ground_truth.hpp"

namespace diffpath::gui {
namespace {

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// The evaluation set: up to n points spread evenly over the data (the synthetic sets are in
// random order, so this is a random subset; for CSV files it covers the whole file).
Points pick_eval_points(const Points& data, int n) {
  const int m = int(data.cols());
  if (m <= n) return data;
  Points x(data.rows(), n);
  for (int i = 0; i < n; ++i) x.col(i) = data.col(int64_t(i) * m / n);
  return x;
}

}  // namespace

Session::Session(const Experiment& initial, bool autostart)
    : sampling_(make_sampling_job()), evaluator_(make_eval_job()), w2_(make_w2_job()) {
  verbose_ = std::getenv("DIFFPATH_VERBOSE") != nullptr;
  try {
    rebuild_data(initial);
    exp_ = initial;
    rebuild_model(initial, autostart);
  } catch (const std::exception& e) {
    error_ = std::string("could not set up the experiment: ") + e.what() +
             " — using the default one";
    exp_ = Experiment{};
    rebuild_data(exp_);
    rebuild_model(exp_, autostart);
  }
  submit_sample();
}

Session::~Session() {
  // Stop the workers before the trainer: they may hold snapshots, never the trainer itself.
  cancel_background_work();
  sampling_.reset();
  evaluator_.reset();
  w2_.reset();
  trainer_.reset();
}

void Session::rebuild_data(const Experiment& e) {
  Points pts;
  if (e.data == "drawn") {
    if (e.drawn.cols() < 2) throw Error("draw at least 2 points on the canvas first");
    pts = e.drawn;
  } else {
    pts = make_dataset(e.data_spec(), e.n_data, e.data_seed).points;
  }
  if (pts.rows() != 2)
    throw Error("the app shows 2D data; '" + e.data_spec() + "' has dimension " +
                std::to_string(pts.rows()));
  if (!pts.allFinite()) throw Error("data set '" + e.data_spec() + "' has non-finite points");
  data_ = std::move(pts);
  eval_x_ = pick_eval_points(data_, e.eval_points);
}

TrainConfig Session::train_config(const Experiment& e) const {
  TrainConfig c;
  c.data_spec = e.data == "drawn" ? std::string("drawn") : e.data_spec();
  c.data = data_;
  c.n_data = int(data_.cols());
  c.data_seed = e.data_seed;
  c.schedule = e.schedule;
  c.batch = e.batch;
  c.lr = e.lr;
  c.hidden.assign(size_t(e.depth), e.width);
  c.seed = e.train_seed;
  // One training thread: the second core stays free for the sampler and the evaluator, so
  // the picture keeps up with the model.
  c.threads = 1;
  c.snapshot_every_steps = 250;
  c.snapshot_every_ms = 400;
  return c;
}

void Session::rebuild_model(const Experiment& e, bool autostart) {
  reference_.reset();
  if (e.model == ModelKind::Mlp) {
    if (!trainer_) {
      trainer_ = std::make_unique<BackgroundTrainer>(train_config(e));
    } else if (!exp_.same_training(e)) {
      trainer_->reset(train_config(e));
    }
    trainer_->set_lr(e.lr);
    if (autostart) trainer_->start();
    const ModelSnapshot snap = trainer_->snapshot();
    seen_snapshot_ = snap.version;
    set_model(snap.model, snap.step);
    if (auto mix = dataset_mixture(e.data_spec()); mix && e.data != "drawn")
      reference_ = std::make_shared<MixtureScore>(*mix, e.schedule, "exact:" + e.data_spec());
  } else {
    if (trainer_) trainer_->pause();
    ScoreModelPtr m;
    if (e.model == ModelKind::Exact && e.data == "drawn") {
      m = std::make_shared<MixtureScore>(GaussianMixture::empirical(data_), e.schedule, "exact:drawn");
    } else {
      ScoreSpecOptions so;
      so.n_data = e.n_data;
      so.data_seed = e.data_seed;
      m = make_score_model(e.analytic_model_spec(), e.schedule, so);
    }
    if (m->dim() != 2) throw Error("model '" + m->spec() + "' is not two-dimensional");
    set_model(std::move(m), 0);
  }
  eval_history_.clear();
  eval_latest_.reset();
  eval_reference_.reset();
  reference_pending_ = reference_ != nullptr;
  evaluator_->cancel();
  w2_->cancel();
}

void Session::set_model(ScoreModelPtr m, int64_t step) {
  model_ = std::move(m);
  model_step_ = step;
  ++model_version_;
}

bool Session::apply(const Experiment& next) {
  if (next.same_sampling(exp_) && next.trail_every == exp_.trail_every &&
      next.lr == exp_.lr && next.eval_points == exp_.eval_points && next.eval_rtol == exp_.eval_rtol)
    return true;
  const Experiment prev = exp_;
  const Points prev_data = data_, prev_eval = eval_x_;
  try {
    if (!next.same_data(prev) || next.eval_points != prev.eval_points) rebuild_data(next);
    if (!next.same_model(prev) || next.eval_rtol != prev.eval_rtol ||
        next.eval_points != prev.eval_points) {
      const bool running = status_.state == TrainerState::Running ||
                           (prev.model != ModelKind::Mlp && next.model == ModelKind::Mlp);
      rebuild_model(next, running || !trainer_);
    } else if (next.lr != prev.lr && trainer_) {
      trainer_->set_lr(next.lr);
    }
  } catch (const std::exception& e) {
    error_ = e.what();
    data_ = prev_data;
    eval_x_ = prev_eval;
    return false;
  }
  exp_ = next;
  error_.clear();
  if (!exp_.same_sampling(sampled_exp_) || sampled_exp_.trail_every != exp_.trail_every)
    submit_sample();
  return true;
}

void Session::submit_sample() {
  if (!model_) return;
  SampleRequest r;
  r.model = model_;
  r.schedule = exp_.schedule;
  r.options.eta = exp_.eta;
  r.options.steps = exp_.steps;
  r.options.n = exp_.particles;
  r.options.seed = exp_.seed;
  r.options.stride = exp_.frame_stride;
  r.options.record_action = true;
  r.model_version = model_version_;
  // First pass ≈ 1/6 of the particles: the picture follows a dragged slider at once.
  r.coarse_particles = std::max(200, exp_.particles / 6);
  sampling_->submit(std::move(r));
  sampled_exp_ = exp_;
  sample_request_id_ = model_version_;
  resample_pending_ = false;
}

void Session::submit_eval() {
  if (!model_ || model_->max_order() < 3) return;
  EvalRequest r;
  r.schedule = exp_.schedule;
  r.x0 = eval_x_;
  r.options.rtol = exp_.eval_rtol;
  r.options.atol = exp_.eval_rtol;
  r.options.error_estimate = false;  // one pass per snapshot: the chart wants many points
  r.options.threads = 1;
  if (reference_pending_ && reference_) {
    r.model = reference_;
    r.reference = true;
    reference_pending_ = false;
  } else {
    r.model = model_;
    r.model_version = model_version_;
    r.step = model_step_;
    evaluated_version_ = model_version_;
    if (exp_.model == ModelKind::Gaussian) {
      r.gaussian_truth = true;
      r.gaussian = {2, exp_.gauss_m, exp_.gauss_v, exp_.gauss_eps, exp_.gauss_delta};
    }
  }
  evaluator_->submit(std::move(r));
}

void Session::poll_trainer() {
  if (!trainer_ || exp_.model != ModelKind::Mlp) return;
  const double now = now_seconds();
  if (now - last_history_refresh_ > 0.25) {
    status_ = trainer_->status();
    last_history_refresh_ = now;
  } else {
    auto hist = std::move(status_.history);
    const int64_t stride = status_.history_stride;
    status_ = trainer_->status_brief();
    status_.history = std::move(hist);
    status_.history_stride = stride;
  }
  if (status_.state == TrainerState::Failed && !status_.message.empty())
    error_ = "training failed: " + status_.message;
  if (status_.snapshot_version != seen_snapshot_) {
    const ModelSnapshot snap = trainer_->snapshot();
    seen_snapshot_ = snap.version;
    set_model(snap.model, snap.step);
    resample_pending_ = true;
  }
}

void Session::log_timings() {
  if (!verbose_) return;
  if (sampling_->version() != logged_sample_) {
    logged_sample_ = sampling_->version();
    if (auto s = sampling_->latest())
      std::fprintf(stderr, "[session] sample %s: %d particles, eta %.3f, model v%llu, %.3f s\n",
                   s->coarse ? "coarse" : "full", s->particles(), s->eta,
                   (unsigned long long)s->model_version, s->seconds);
  }
  if (evaluator_->version() != logged_eval_) {
    logged_eval_ = evaluator_->version();
    if (auto e = evaluator_->latest())
      std::fprintf(stderr, "[session] eval%s step %lld: NLL %.4f, E[-c] %.4f, %.3f s\n",
                   e->reference ? " (reference)" : "", (long long)e->step, e->summary.nll_mean,
                   e->summary.wkb_mean, e->summary.seconds);
  }
}

void Session::poll_evaluator() {
  const uint64_t v = evaluator_->version();
  if (v != seen_eval_) {
    seen_eval_ = v;
    auto r = evaluator_->latest();
    if (r) {
      ++evaluations_done_;
      if (r->reference) {
        eval_reference_ = r;
      } else {
        eval_latest_ = r;
        const auto& s = r->summary;
        EvalRecord rec{r->step, s.nll_mean, s.nll_se, s.wkb_mean, s.wkb_se};
        if (eval_history_.empty() || eval_history_.back().step < rec.step)
          eval_history_.push_back(rec);
        else if (eval_history_.back().step == rec.step)
          eval_history_.back() = rec;
      }
    }
  }
  if (!evaluator_->error().empty() && error_.empty()) error_ = "evaluation: " + evaluator_->error();
  // Evaluate the newest snapshot when the evaluator is free (never queue a backlog).
  if (evaluator_->idle() && (reference_pending_ || evaluated_version_ != model_version_))
    submit_eval();
}

void Session::tick() {
  log_timings();
  poll_trainer();
  // Snapshots of a training model refresh the picture only once the previous picture is done,
  // so the sampler is never starved by a fast trainer.
  if (resample_pending_ && sampling_->idle()) submit_sample();
  poll_evaluator();
  if (!sampling_->error().empty() && error_.empty()) error_ = "sampling: " + sampling_->error();
  if (!w2_->error().empty() && error_.empty()) error_ = "W2 sweep: " + w2_->error();
}

bool Session::sample_settled() const {
  if (resample_pending_ || sampling_->busy()) return false;
  auto s = sampling_->latest();
  return s && !s->coarse && s->eta == exp_.eta && s->model_version == sample_request_id_;
}

bool Session::sample_current(uint64_t min_version) const {
  auto s = sampling_->latest();
  return s && !s->coarse && s->eta == exp_.eta && s->seed == exp_.seed &&
         s->particles() == exp_.particles && s->schedule == exp_.schedule &&
         !s->result.frame_steps.empty() && s->result.frame_steps.back() == exp_.steps &&
         s->model_version >= min_version;
}

void Session::start_training() {
  if (trainer_ && exp_.model == ModelKind::Mlp) trainer_->start();
}

void Session::pause_training() {
  if (trainer_) trainer_->pause();
}

void Session::reset_training() {
  if (!trainer_ || exp_.model != ModelKind::Mlp) return;
  try {
    const bool running = status_.state == TrainerState::Running;
    trainer_->reset(train_config(exp_));
    trainer_->set_max_steps(0);
    if (running) trainer_->start();
    eval_history_.clear();
    eval_latest_.reset();
  } catch (const std::exception& e) {
    error_ = e.what();
  }
}

int64_t Session::train_more(int64_t n) {
  if (!trainer_ || exp_.model != ModelKind::Mlp) return 0;
  const TrainerStatus s = trainer_->status_brief();
  const int64_t target = s.steps + n;
  if (s.state != TrainerState::Running) {
    trainer_->set_max_steps(target);
    trainer_->start();
  } else if (s.max_steps != 0 && s.max_steps < target) {
    trainer_->set_max_steps(target);
  }
  return target;
}

void Session::save_checkpoint(const std::string& path) const {
  auto mlp = std::dynamic_pointer_cast<const Mlp>(model_);
  if (!mlp) throw Error("only a trained network can be saved as a checkpoint");
  std::map<std::string, std::string> meta = {
      {"schedule", exp_.schedule.spec()},
      {"data", exp_.data_spec()},
      {"step", std::to_string(model_step_)}};
  diffpath::save_checkpoint(path, mlp->params(), meta);
}

double Session::exact_nll(double eta) const {
  if (!has_exact_nll()) return NAN;
  GaussianScoreParams p{2, exp_.gauss_m, exp_.gauss_v, exp_.gauss_eps, exp_.gauss_delta};
  return gaussian_nll(p, exp_.schedule, eta);
}

void Session::request_w2_sweep() {
  if (!model_) return;
  W2Request r;
  r.model = model_;
  r.schedule = exp_.schedule;
  r.data_spec = exp_.data == "drawn" ? std::string() : exp_.data_spec();
  if (r.data_spec.empty()) {
    error_ = "W2 sweep needs a data set to draw fresh samples from (not drawn points)";
    return;
  }
  // Interactive size: 6 η values on the paper's [0, 0.2], 2 trials of 600 points, 200 steps
  // (the CLI runs the paper's 3000 × 10 trials). Same seeds at every η: a smooth curve.
  for (int i = 0; i <= 5; ++i) r.options.etas.push_back(0.04 * i);
  r.options.trials = 2;
  r.options.n = 600;
  r.options.steps = std::min(exp_.steps, 200);
  r.options.seed = exp_.seed;
  r.options.threads = 1;
  r.model_version = model_version_;
  w2_->submit(std::move(r));
}

void Session::cancel_background_work() {
  sampling_->cancel();
  evaluator_->cancel();
  w2_->cancel();
}

}  // namespace diffpath::gui
