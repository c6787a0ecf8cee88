#include "session.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "diffpath/dataset.hpp"

namespace diffpath::gui {
namespace {

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
    : sampling_(make_sampling_job()), w2_(make_w2_job()) {
  verbose_ = std::getenv("DIFFPATH_VERBOSE") != nullptr;
  auto set_up = [&](const Experiment& e) {
    Data d = make_data(e);
    auto main_slot = make_slot(e, 0, d.data, d.eval_x, autostart);
    data_ = std::move(d.data);
    eval_x_ = std::move(d.eval_x);
    slots_.clear();
    slots_.push_back(std::move(main_slot));
    exp_ = e;
  };
  try {
    set_up(initial);
  } catch (const std::exception& e) {
    error_ = std::string("could not set up the experiment: ") + e.what() + " — using the default one";
    set_up(Experiment{});
  }
  rebuild_compared(exp_, false, autostart);
  submit_sample();
}

Session::~Session() {
  // Stop the workers before the models: they may hold snapshots, never a trainer.
  cancel_background_work();
  sampling_.reset();
  w2_.reset();
  slots_.clear();
}

Session::Data Session::make_data(const Experiment& e) {
  Data d;
  if (e.data == "drawn") {
    if (e.drawn.cols() < 2) throw Error("draw at least 2 points on the canvas first");
    d.data = e.drawn;
  } else {
    d.data = make_dataset(e.data_spec(), e.n_data, e.data_seed).points;
  }
  if (d.data.rows() != 2)
    throw Error("the app shows 2D data; '" + e.data_spec() + "' has dimension " +
                std::to_string(d.data.rows()));
  if (!d.data.allFinite()) throw Error("data set '" + e.data_spec() + "' has non-finite points");
  d.eval_x = pick_eval_points(d.data, e.eval_points);
  return d;
}

ModelSlot::EvalInputs Session::eval_inputs(const Experiment& e) const {
  return {eval_x_, e.eval_rtol, e.steps};
}

std::unique_ptr<ModelSlot> Session::make_slot(const Experiment& e, size_t k, const Points& data,
                                              const Points& eval_x, bool train) const {
  const Experiment se = slot_experiment(e, k);
  if (k > 0 && se.model == ModelKind::Gaussian)
    throw Error("the Gaussian model is only available as the main model");
  return std::make_unique<ModelSlot>(se, data, ModelSlot::EvalInputs{eval_x, e.eval_rtol, e.steps},
                                     int(k), train, /*reference=*/k == 0);
}

// Slots 1.. from e.compare: unchanged ones are kept (with their training and history) when
// `keep_unchanged`; those that cannot be built are dropped from e.compare.
void Session::rebuild_compared(Experiment& e, bool keep_unchanged, bool train) {
  std::vector<std::unique_ptr<ModelSlot>> next;
  next.push_back(std::move(slots_.front()));
  std::vector<CompareSpec> kept_specs;
  std::string errors;
  for (size_t k = 0; k < e.compare.size(); ++k) {
    const CompareSpec& spec = e.compare[k];
    auto same = std::find_if(slots_.begin() + 1, slots_.end(),
                             [&](const auto& sl) { return sl && sl->spec() == spec; });
    try {
      if (keep_unchanged && same != slots_.end()) next.push_back(std::move(*same));
      else next.push_back(make_slot(e, k + 1, data_, eval_x_, train));
      next.back()->set_color_index(int(next.size() - 1));
      kept_specs.push_back(spec);
    } catch (const std::exception& ex) {
      // Dropped from the list; the status line says why.
      errors += (errors.empty() ? "" : "; ") + std::string(ex.what());
    }
  }
  slots_ = std::move(next);  // joins the workers of slots no longer listed
  e.compare = std::move(kept_specs);
  if (!errors.empty()) error_ = "compare: " + errors;
  if (view_index_ >= slots_.size()) view_index_ = 0;
}

bool Session::apply(const Experiment& next) {
  try {
    next.validate();
  } catch (const std::exception& e) {
    error_ = e.what();
    return false;
  }
  if (next.same_sampling(exp_) && next.trail_every == exp_.trail_every && next.lr == exp_.lr &&
      next.eval_points == exp_.eval_points && next.eval_rtol == exp_.eval_rtol &&
      next.compare == exp_.compare)
    return true;
  const Experiment prev = exp_;
  const bool same_data = next.same_data(prev);
  const bool same_eval = same_data && next.eval_points == prev.eval_points && next.eval_rtol == prev.eval_rtol;
  // A new network trains if the current one does (or there was none).
  const bool train = main().trainer_status().state == TrainerState::Running || !main().trains();
  // First everything that can fail (an unreadable CSV or checkpoint, a bad spec), so that bad
  // input leaves the session — data, models, training — exactly as it was.
  std::optional<Data> data;
  std::unique_ptr<ModelSlot> main_slot;
  try {
    if (!same_data || next.eval_points != prev.eval_points) data = make_data(next);
    if (!next.same_model(prev))
      main_slot = make_slot(next, 0, data ? data->data : data_, data ? data->eval_x : eval_x_, train);
  } catch (const std::exception& e) {
    error_ = e.what();
    return false;
  }
  error_.clear();
  if (data) {
    data_ = std::move(data->data);
    eval_x_ = std::move(data->eval_x);
  }
  if (main_slot) slots_.front() = std::move(main_slot);
  else if (!same_eval) main().set_eval_inputs(eval_inputs(next));
  // Compared models: rebuilt when the data change, kept (re-evaluated if the evaluation set
  // changed) otherwise.
  Experiment accepted = next;
  if (!same_data || next.compare != prev.compare) rebuild_compared(accepted, same_data, train);
  for (size_t k = 1; k < slots_.size(); ++k)
    if (same_data && !same_eval) slots_[k]->set_eval_inputs(eval_inputs(next));
  for (auto& sl : slots_) {
    if (next.lr != prev.lr) sl->set_lr(next.lr);
    sl->set_kl_steps(next.steps);
  }
  exp_ = accepted;
  if (!exp_.same_sampling(sampled_exp_) || sampled_exp_.trail_every != exp_.trail_every ||
      view_model() != seen_view_model_)
    submit_sample();
  return true;
}

void Session::set_view_index(size_t k) {
  if (k >= slots_.size()) k = 0;
  if (k == view_index_) return;
  view_index_ = k;
  submit_sample();
}

bool Session::view_model_changed() {
  const ScoreModelPtr m = view_model();
  if (m == seen_view_model_) return false;
  seen_view_model_ = m;
  ++view_version_;
  return true;
}

void Session::submit_sample(bool progressive) {
  view_model_changed();
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
  r.view_version = view_version_;
  // Preview: one chunk of the sampler (256 particles) on a 4× coarser grid (~13k
  // particle-steps at the defaults), so the picture follows a dragged slider at once and
  // then fills in.
  r.coarse_particles = progressive && exp_.particles > 512 ? 256 : exp_.particles;
  sampling_->submit(std::move(r));
  sampled_exp_ = exp_;
  resample_pending_ = false;
}

void Session::log_timings() {
  if (!verbose_) return;
  if (sampling_->version() != logged_sample_) {
    logged_sample_ = sampling_->version();
    if (auto s = sampling_->latest())
      std::fprintf(stderr, "[session] sample %s: %d particles, eta %.3f, view v%llu, %.3f s\n",
                   s->coarse ? "coarse" : "full", s->particles(), s->eta,
                   (unsigned long long)s->view_version, s->seconds);
  }
  logged_evals_.resize(slots_.size(), 0);
  for (size_t k = 0; k < slots_.size(); ++k) {
    const ModelSlot& sl = *slots_[k];
    if (sl.evaluations_done() == logged_evals_[k]) continue;
    logged_evals_[k] = sl.evaluations_done();
    auto e = sl.reference_evaluation();
    if (!e || (sl.evaluation() && sl.evaluation()->model_version >= e->model_version)) e = sl.evaluation();
    if (e)
      std::fprintf(stderr, "[session] eval %s%s step %lld: NLL %.4f, E[-c] %.4f, %.3f s\n",
                   sl.label().c_str(), e->reference ? " (reference)" : "", (long long)e->step,
                   e->summary.nll_mean, e->summary.wkb_mean, e->summary.seconds);
  }
}

void Session::tick(double now) {
  log_timings();
  if (auto s = sampling_->latest(); s && !s->coarse) full_sample_ = s;
  for (auto& sl : slots_) sl->tick(now);
  for (const auto& sl : slots_)
    if (!sl->error().empty() && error_.empty()) error_ = sl->error();
  // Snapshots of a training model refresh the picture only once the previous picture is done,
  // so the sampler is never starved by a fast trainer; they replace the picture in one pass
  // (the coarse first pass is for a person's changes).
  if (view_model_changed()) resample_pending_ = true;
  if (resample_pending_ && sampling_->idle()) submit_sample(false);
  if (!sampling_->error().empty() && error_.empty()) error_ = "sampling: " + sampling_->error();
  if (!w2_->error().empty() && error_.empty()) error_ = "W2 sweep: " + w2_->error();
}

std::shared_ptr<const SampleView> Session::full_sample() const {
  // The sampler's newest result when it is a full pass (a script may export it before the
  // next tick), else the last full pass seen.
  if (auto s = sampling_->latest(); s && !s->coarse) return s;
  return full_sample_;
}

bool Session::sample_current(uint64_t min_version) const {
  auto s = full_sample();
  return s && s->eta == exp_.eta && s->seed == exp_.seed && s->particles() == exp_.particles &&
         s->schedule == view_schedule() && !s->result.frame_steps.empty() &&
         s->result.frame_steps.back() == exp_.steps && s->view_version >= min_version;
}

void Session::start_training() {
  for (auto& sl : slots_) sl->start_training();
}

void Session::pause_training() {
  for (auto& sl : slots_) sl->pause_training();
}

void Session::reset_training() {
  try {
    main().reset_training(exp_, data_);
  } catch (const std::exception& e) {
    error_ = e.what();
  }
}

void Session::save_checkpoint(const std::string& path) const {
  main().save_checkpoint(path, exp_.data_spec());
}

void Session::request_w2_sweep() {
  W2Request r;
  r.model = main().model();
  if (!r.model) return;
  r.schedule = main().schedule();
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
  r.model_version = main().model_version();
  w2_->submit(std::move(r));
}

void Session::cancel_background_work() {
  sampling_->cancel();
  w2_->cancel();
  for (auto& sl : slots_) sl->cancel_background_work();
}

}  // namespace diffpath::gui
