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
  rebuild_slots(exp_, false, autostart);
  submit_sample();
}

Session::~Session() {
  // Stop the workers before the trainer: they may hold snapshots, never the trainer itself.
  cancel_background_work();
  sampling_.reset();
  evaluator_.reset();
  w2_.reset();
  slots_.clear();
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

void Session::rebuild_model(const Experiment& e, bool autostart) {
  // First everything that can fail (an unreadable checkpoint, a bad spec or configuration), so
  // that bad input leaves the session — model, training, reference — exactly as it was.
  ScoreModelPtr score = data_score(e, data_, e.schedule);
  ScoreModelPtr fixed;                      // the model, when it does not train
  std::unique_ptr<TrainConfig> config;      // a new training run, when one is needed
  if (e.model == ModelKind::Mlp) {
    if (!trainer_ || !exp_.same_training(e)) config = std::make_unique<TrainConfig>(make_train_config(e, data_));
  } else if (e.model == ModelKind::Exact) {
    fixed = score;
  } else {
    ScoreSpecOptions so;
    so.n_data = e.n_data;
    so.data_seed = e.data_seed;
    fixed = make_score_model(e.analytic_model_spec(), e.schedule, so);
    if (fixed->dim() != 2) throw Error("model '" + fixed->spec() + "' is not two-dimensional");
  }
  if (config && trainer_) trainer_->reset(*config);  // validates first, changes nothing on error
  else if (config) trainer_ = std::make_unique<BackgroundTrainer>(*config);

  data_score_ = std::move(score);
  reference_.reset();
  if (e.model == ModelKind::Mlp) {
    trainer_->set_lr(e.lr);
    if (autostart) trainer_->start();
    const ModelSnapshot snap = trainer_->snapshot();
    seen_snapshot_ = snap.version;
    set_model(snap.model, snap.step);
    // The exact-score reference line (NLL(0) of the perfect model) where the data's
    // distribution is known, not merely its sample.
    if (e.data != "drawn" && dataset_mixture(e.data_spec())) reference_ = data_score_;
  } else {
    if (trainer_) trainer_->pause();
    set_model(std::move(fixed), 0);
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
  if (view_index_ < 0) ++view_version_;
}

// ---------------------------------------------------------------- compared models

void Session::rebuild_slots(Experiment& e, bool keep_unchanged, bool autostart) {
  std::vector<std::unique_ptr<CompareSlot>> next;
  std::vector<CompareSpec> kept_specs;
  std::string errors;
  for (const CompareSpec& spec : e.compare) {
    // Same data and spec: keep the running slot (its training and history).
    auto same = std::find_if(slots_.begin(), slots_.end(),
                             [&](const auto& sl) { return sl && sl->spec() == spec; });
    if (keep_unchanged && same != slots_.end()) {
      next.push_back(std::move(*same));
      kept_specs.push_back(spec);
      continue;
    }
    try {
      next.push_back(std::make_unique<CompareSlot>(spec, e, data_, eval_x_, autostart));
      kept_specs.push_back(spec);
    } catch (const std::exception& ex) {
      // Dropped from the list; the status line says why.
      errors += (errors.empty() ? "" : "; ") + std::string(ex.what());
    }
  }
  slots_ = std::move(next);  // joins the workers of slots no longer listed
  e.compare = std::move(kept_specs);
  if (!errors.empty()) error_ = "compare: " + errors;
  if (view_index_ >= int(slots_.size())) view_index_ = -1;
  ++view_version_;
  seen_view_model_ = view_index_ >= 0 ? slots_[size_t(view_index_)]->model_version() : 0;
}

void Session::poll_slots() {
  for (auto& sl : slots_) sl->tick();
  for (auto& sl : slots_)
    if (!sl->error().empty() && error_.empty()) error_ = sl->error();
  if (view_index_ >= 0) {
    const uint64_t v = slots_[size_t(view_index_)]->model_version();
    if (v != seen_view_model_) {
      if (seen_view_model_ != 0) resample_pending_ = true;
      seen_view_model_ = v;
      ++view_version_;
    }
  }
}

void Session::set_view_index(int k) {
  k = (k < 0 || k >= int(slots_.size())) ? -1 : k;
  if (k == view_index_) return;
  view_index_ = k;
  seen_view_model_ = k >= 0 ? slots_[size_t(k)]->model_version() : 0;
  ++view_version_;
  submit_sample();
}

ScoreModelPtr Session::view_model() const {
  return view_index_ >= 0 ? slots_[size_t(view_index_)]->model() : model_;
}

const Schedule& Session::view_schedule() const {
  return view_index_ >= 0 ? slots_[size_t(view_index_)]->schedule() : exp_.schedule;
}

bool Session::apply(const Experiment& next) {
  if (next.same_sampling(exp_) && next.trail_every == exp_.trail_every &&
      next.lr == exp_.lr && next.eval_points == exp_.eval_points &&
      next.eval_rtol == exp_.eval_rtol && next.compare == exp_.compare)
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
  error_.clear();
  // Compared models: rebuilt when their list, the data or the evaluation set change.
  Experiment accepted = next;
  const bool same_inputs = next.same_data(prev) && next.eval_points == prev.eval_points &&
                           next.eval_rtol == prev.eval_rtol;
  if (!same_inputs || next.compare != prev.compare)
    rebuild_slots(accepted, same_inputs, status_.state == TrainerState::Running || !trainer_);
  exp_ = accepted;
  if (!exp_.same_sampling(sampled_exp_) || sampled_exp_.trail_every != exp_.trail_every)
    submit_sample();
  return true;
}

void Session::submit_sample(bool progressive) {
  const ScoreModelPtr m = view_model();
  if (!m) return;
  SampleRequest r;
  r.model = m;
  r.schedule = view_schedule();
  r.options.eta = exp_.eta;
  r.options.steps = exp_.steps;
  r.options.n = exp_.particles;
  r.options.seed = exp_.seed;
  r.options.stride = exp_.frame_stride;
  r.options.record_action = true;
  r.model_version = view_version_;
  // Preview: one chunk of the sampler (256 particles) on a 4× coarser grid (~13k
  // particle-steps at the defaults), so the picture follows a dragged slider at once and
  // then fills in.
  r.coarse_particles = progressive && exp_.particles > 512 ? 256 : exp_.particles;
  sampling_->submit(std::move(r));
  sampled_exp_ = exp_;
  sample_request_id_ = view_version_;
  resample_pending_ = false;
}

void Session::submit_eval() {
  if (!model_ || model_->max_order() < 3) return;
  EvalRequest r;
  if (reference_pending_ && reference_) {
    r = snapshot_eval_request(reference_, exp_.schedule, eval_x_, exp_.eval_rtol, 0, 0);
    r.reference = true;
    reference_pending_ = false;
  } else {
    r = snapshot_eval_request(model_, exp_.schedule, eval_x_, exp_.eval_rtol, model_version_,
                              model_step_);
    evaluated_version_ = model_version_;
    if (exp_.model != ModelKind::Exact) {
      r.exact = data_score_;
      r.kl_steps = exp_.steps;
      r.kl_data = data_;
    }
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
    if (view_index_ < 0) resample_pending_ = true;
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
        add_eval_record(eval_history_, *r);
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
  if (auto s = sampling_->latest(); s && !s->coarse) full_sample_ = s;
  poll_trainer();
  poll_slots();
  // Snapshots of a training model refresh the picture only once the previous picture is done,
  // so the sampler is never starved by a fast trainer.
  // They replace the picture in one pass: the coarse first pass is for a person's changes.
  if (resample_pending_ && sampling_->idle()) submit_sample(false);
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
         s->particles() == exp_.particles && s->schedule == view_schedule() &&
         !s->result.frame_steps.empty() && s->result.frame_steps.back() == exp_.steps &&
         s->model_version >= min_version;
}

void Session::start_training() {
  if (trainer_ && exp_.model == ModelKind::Mlp) trainer_->start();
  for (auto& sl : slots_) sl->start_training();
}

void Session::pause_training() {
  if (trainer_) trainer_->pause();
  for (auto& sl : slots_) sl->pause_training();
}

void Session::reset_training() {
  if (!trainer_ || exp_.model != ModelKind::Mlp) return;
  try {
    const bool running = status_.state == TrainerState::Running;
    // From scratch: fresh LeCun-normal weights even where the experiment warm-starts from a
    // shipped checkpoint (that is what a change of data or schedule does).
    TrainConfig c = make_train_config(exp_, data_);
    c.initial.reset();
    trainer_->reset(std::move(c));
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
