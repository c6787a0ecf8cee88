#include "model_slot.hpp"

#include <atomic>
#include <filesystem>

#include "diffpath/checkpoint.hpp"
#include "diffpath/dataset.hpp"

namespace diffpath::gui {
namespace {

// Model versions are unique across slots and slot rebuilds, so "an evaluation at least as new
// as version v" never matches a stale result of another slot.
uint64_t next_model_version() {
  static std::atomic<uint64_t> counter{0};
  return ++counter;
}

}  // namespace

void add_eval_record(std::vector<EvalRecord>& history, const EvalResult& r) {
  const auto& s = r.summary;
  EvalRecord rec{r.step, s.nll_mean, s.nll_se, s.wkb_mean, s.wkb_se};
  rec.wkb_median = wkb_robust_summary(s).median;
  if (r.kl) {
    rec.kl_actions = r.kl->by_actions;
    rec.kl_actions_se = r.kl->by_actions_se;
    rec.kl_loss = r.kl->by_loss;
    rec.kl_loss_se = r.kl->by_loss_se;
    rec.loss_star = r.loss_star.mean;
    rec.loss_star_se = r.loss_star.se;
  }
  if (history.empty() || history.back().step < rec.step) history.push_back(rec);
  else if (history.back().step == rec.step) history.back() = rec;
}

std::string model_label(const Schedule& schedule, ModelKind kind) {
  static const char* kinds[] = {"live MLP", "exact score", "Gaussian", "checkpoint"};
  std::string sched = schedule.kind == ScheduleKind::Simple   ? "simple"
                      : schedule.kind == ScheduleKind::Cosine ? "cosine"
                                                              : schedule.spec();
  return sched + " · " + kinds[int(kind)];
}

Experiment slot_experiment(const Experiment& e, size_t k) {
  if (k == 0) return e;
  Experiment s = e;
  const CompareSpec& c = e.compare.at(k - 1);
  s.schedule = c.schedule;
  s.model = c.model;
  s.checkpoint = c.checkpoint;
  return s;
}

ScoreModelPtr data_score(const Experiment& e, const Points& data, const Schedule& schedule) {
  const std::string name = "exact:" + (e.data == "drawn" ? std::string("drawn") : e.data_spec());
  if (e.data != "drawn")
    if (auto mix = dataset_mixture(e.data_spec()))
      return std::make_shared<MixtureScore>(*mix, schedule, name);
  return std::make_shared<MixtureScore>(GaussianMixture::empirical(data), schedule, name);
}

TrainConfig make_train_config(const Experiment& e, const Points& data) {
  TrainConfig c;
  c.data_spec = e.data == "drawn" ? std::string("drawn") : e.data_spec();
  c.data = data;
  c.n_data = int(data.cols());
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
  c.nice = 5;  // like the evaluators: the GUI and the interactive sampler come first
  if (e.warm_start && e.data != "drawn") {
    if (const std::string ckpt = shipped_checkpoint(e.data_spec(), e.schedule); !ckpt.empty())
      c.initial = std::make_shared<MlpParams>(load_checkpoint(ckpt).params);
  }
  return c;
}

ModelSlot::ModelSlot(const Experiment& e, const Points& data, EvalInputs inputs, int color_index,
                     bool train, bool reference)
    : spec_{e.schedule, e.model, e.checkpoint}, kind_(e.model), schedule_(e.schedule),
      color_index_(color_index), inputs_(std::move(inputs)), data_(data),
      evaluator_(make_eval_job()), nll_eta_job_(make_nll_eta_job()) {
  label_ = model_label(schedule_, kind_);
  data_score_ = data_score(e, data, schedule_);
  switch (kind_) {
    case ModelKind::Mlp: {
      trainer_ = std::make_unique<BackgroundTrainer>(make_train_config(e, data));
      trainer_->set_lr(e.lr);
      if (train) trainer_->start();
      const ModelSnapshot snap = trainer_->snapshot();
      seen_snapshot_ = snap.version;
      model_ = snap.model;
      model_step_ = snap.step;
      status_ = trainer_->status();
      // The exact-score reference line (NLL(0) of the perfect model) where the data's
      // distribution is known, not merely its sample.
      if (reference && e.data != "drawn" && dataset_mixture(e.data_spec())) reference_ = data_score_;
      break;
    }
    case ModelKind::Checkpoint: {
      // No file: the checkpoint shipped for this data set and schedule.
      const std::string path = e.checkpoint.empty() ? shipped_checkpoint(e.data_spec(), schedule_)
                                                    : resolve_asset(e.checkpoint);
      if (path.empty())
        throw Error(e.checkpoint.empty()
                        ? "no shipped checkpoint for " + e.data_spec() + " with the " +
                              schedule_.spec() + " schedule (give a file)"
                        : "cannot find checkpoint " + e.checkpoint);
      model_ = make_score_model("model:" + path, schedule_);
      if (!e.checkpoint.empty()) label_ += " " + std::filesystem::path(path).stem().string();
      break;
    }
    case ModelKind::Exact: model_ = data_score_; break;
    case ModelKind::Gaussian: {
      ScoreSpecOptions so;
      so.n_data = e.n_data;
      so.data_seed = e.data_seed;
      model_ = make_score_model(e.analytic_model_spec(), schedule_, so);
      gaussian_truth_ = true;
      gaussian_ = {2, e.gauss_m, e.gauss_v, e.gauss_eps, e.gauss_delta};
      break;
    }
  }
  if (model_->dim() != 2) throw Error("model '" + model_->spec() + "' is not two-dimensional");
  model_version_ = next_model_version();
  reference_pending_ = reference_ != nullptr;
}

ModelSlot::~ModelSlot() {
  // The evaluator holds snapshots, never the trainer: stop it first.
  evaluator_->cancel();
  nll_eta_job_->cancel();
  evaluator_.reset();
  nll_eta_job_.reset();
  trainer_.reset();
}

void ModelSlot::clear_evaluations() {
  eval_history_.clear();
  eval_latest_.reset();
  eval_reference_.reset();
  reference_pending_ = reference_ != nullptr;
  evaluated_version_ = 0;
  evaluator_->cancel();
  seen_eval_ = evaluator_->version();   // a result of the cancelled request is not ours
  nll_eta_latest_.reset();
  nll_eta_version_ = 0;
  nll_eta_job_->cancel();
  seen_nll_eta_ = nll_eta_job_->version();
}

void ModelSlot::set_eval_inputs(EvalInputs inputs) {
  inputs_ = std::move(inputs);
  clear_evaluations();
}

void ModelSlot::submit_eval() {
  if (!model_ || model_->max_order() < 3) return;
  EvalRequest r;
  if (reference_pending_ && reference_) {
    r = snapshot_eval_request(reference_, schedule_, inputs_.x0, inputs_.rtol, 0, 0);
    r.reference = true;
    reference_pending_ = false;
  } else {
    r = snapshot_eval_request(model_, schedule_, inputs_.x0, inputs_.rtol, model_version_, model_step_);
    evaluated_version_ = model_version_;
    if (kind_ != ModelKind::Exact && data_.cols() <= kMaxKlDataPoints) {
      r.exact = data_score_;
      r.kl_steps = inputs_.kl_steps;
      r.kl_data = data_;
    }
    if (gaussian_truth_) {
      r.gaussian_truth = true;
      r.gaussian = gaussian_;
    }
  }
  evaluator_->submit(std::move(r));
}

void ModelSlot::submit_nll_eta() {
  if (!model_ || model_->max_order() < 1) return;
  // Coarse first only while there is nothing to show: later snapshots replace a full curve.
  nll_eta_job_->submit({model_, schedule_, inputs_.x0, model_version_, !nll_eta_latest_ || nll_eta_latest_->coarse});
  nll_eta_version_ = model_version_;
}

void ModelSlot::tick(double now) {
  if (trainer_) {
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
    if (status_.snapshot_version != seen_snapshot_) {
      const ModelSnapshot snap = trainer_->snapshot();
      seen_snapshot_ = snap.version;
      model_ = snap.model;
      model_step_ = snap.step;
      model_version_ = next_model_version();
    }
  }
  if (const uint64_t v = evaluator_->version(); v != seen_eval_) {
    seen_eval_ = v;
    if (auto r = evaluator_->latest()) {
      ++evaluations_done_;
      if (r->reference) {
        eval_reference_ = r;
      } else {
        eval_latest_ = r;
        add_eval_record(eval_history_, *r);
      }
    }
  }
  if (const uint64_t v = nll_eta_job_->version(); v != seen_nll_eta_) {
    seen_nll_eta_ = v;
    nll_eta_latest_ = nll_eta_job_->latest();
  }
  // The current failure, if any (a later success clears it, so a dismissed message stays away).
  // The trainer says "failed: <reason>"; the slot's line reads "<label>: training failed: <reason>".
  if (trainer_ && status_.state == TrainerState::Failed && !status_.message.empty())
    error_ = label_ + ": training failed: " +
             (status_.message.rfind("failed: ", 0) == 0 ? status_.message.substr(8) : status_.message);
  else if (!evaluator_->error().empty())
    error_ = label_ + ": evaluation: " + evaluator_->error();
  else if (!nll_eta_job_->error().empty())
    error_ = label_ + ": NLL(eta): " + nll_eta_job_->error();
  else
    error_.clear();
  // Evaluate the newest snapshot when the evaluator is free (never queue a backlog).
  if (evaluator_->idle() && (reference_pending_ || evaluated_version_ != model_version_)) submit_eval();
  if (nll_eta_job_->idle() && nll_eta_version_ != model_version_) submit_nll_eta();
}

void ModelSlot::start_training() {
  if (trainer_) trainer_->start();
}

void ModelSlot::pause_training() {
  if (trainer_) trainer_->pause();
}

void ModelSlot::reset_training(const Experiment& e, const Points& data) {
  if (!trainer_) return;
  const bool running = trainer_->status_brief().state == TrainerState::Running;
  // From scratch: fresh LeCun-normal weights even where the experiment warm-starts from a
  // shipped checkpoint (that is what a change of data or schedule does).
  TrainConfig c = make_train_config(e, data);
  c.initial.reset();
  trainer_->reset(std::move(c));
  trainer_->set_max_steps(0);
  if (running) trainer_->start();
  eval_history_.clear();
  eval_latest_.reset();
  // A curve of the old weights still running must not be shown for the new ones.
  nll_eta_latest_.reset();
  nll_eta_job_->cancel();
  seen_nll_eta_ = nll_eta_job_->version();
}

int64_t ModelSlot::train_more(int64_t n) {
  if (!trainer_) return 0;
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

void ModelSlot::set_lr(double lr) {
  if (trainer_) trainer_->set_lr(lr);
}

void ModelSlot::save_checkpoint(const std::string& path, const std::string& data_spec) const {
  auto mlp = std::dynamic_pointer_cast<const Mlp>(model_);
  if (!mlp) throw Error("only a trained network can be saved as a checkpoint");
  std::map<std::string, std::string> meta = {
      {"schedule", schedule_.spec()}, {"data", data_spec}, {"step", std::to_string(model_step_)}};
  diffpath::save_checkpoint(path, mlp->params(), meta);
}

}  // namespace diffpath::gui
