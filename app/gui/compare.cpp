#include "compare.hpp"

#include <chrono>
#include <filesystem>

#include "diffpath/checkpoint.hpp"
#include "diffpath/dataset.hpp"

namespace diffpath::gui {
namespace {

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

void add_eval_record(std::vector<EvalRecord>& history, const EvalResult& r) {
  const auto& s = r.summary;
  EvalRecord rec{r.step, s.nll_mean, s.nll_se, s.wkb_mean, s.wkb_se};
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

CompareSlot::CompareSlot(const CompareSpec& spec, const Experiment& base, const Points& data,
                         const Points& eval_x, bool train)
    : spec_(spec), eval_x_(eval_x), eval_rtol_(base.eval_rtol), data_(data),
      kl_steps_(base.steps), evaluator_(make_eval_job()) {
  label_ = model_label(spec.schedule, spec.model);
  data_score_ = data_score(base, data, spec.schedule);
  Experiment e = base;
  e.schedule = spec.schedule;
  e.model = spec.model;
  if (spec.model == ModelKind::Mlp) {
    trainer_ = std::make_unique<BackgroundTrainer>(make_train_config(e, data));
    if (train) trainer_->start();
    const ModelSnapshot snap = trainer_->snapshot();
    seen_snapshot_ = snap.version;
    model_ = snap.model;
    model_step_ = snap.step;
  } else if (spec.model == ModelKind::Checkpoint) {
    const std::string path = spec.checkpoint.empty() ? shipped_checkpoint(e.data_spec(), e.schedule)
                                                     : resolve_asset(spec.checkpoint);
    if (path.empty())
      throw Error(spec.checkpoint.empty()
                      ? "no shipped checkpoint for " + e.data_spec() + " with the " +
                            spec.schedule.spec() + " schedule (give a file)"
                      : "cannot find checkpoint " + spec.checkpoint);
    model_ = make_score_model("model:" + path, spec.schedule);
    if (!spec.checkpoint.empty()) label_ += " " + std::filesystem::path(path).stem().string();
  } else if (spec.model == ModelKind::Exact) {
    model_ = data_score_;
  } else {
    throw Error("compare: the Gaussian model is only available as the main model");
  }
  if (model_->dim() != 2) throw Error("compare: model '" + model_->spec() + "' is not 2D");
  model_version_ = 1;
}

CompareSlot::~CompareSlot() {
  evaluator_->cancel();
  evaluator_.reset();
  trainer_.reset();
}

void CompareSlot::submit_eval() {
  if (!model_ || model_->max_order() < 3) return;
  EvalRequest r = snapshot_eval_request(model_, spec_.schedule, eval_x_, eval_rtol_, model_version_,
                                        model_step_);
  if (spec_.model != ModelKind::Exact) {
    r.exact = data_score_;
    r.kl_steps = kl_steps_;
    r.kl_data = data_;
  }
  evaluated_version_ = model_version_;
  evaluator_->submit(std::move(r));
}

void CompareSlot::tick() {
  if (trainer_) {
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
      error_ = label_ + ": training failed: " + status_.message;
    if (status_.snapshot_version != seen_snapshot_) {
      const ModelSnapshot snap = trainer_->snapshot();
      seen_snapshot_ = snap.version;
      model_ = snap.model;
      model_step_ = snap.step;
      ++model_version_;
    }
  }
  if (const uint64_t v = evaluator_->version(); v != seen_eval_) {
    seen_eval_ = v;
    if (auto r = evaluator_->latest()) {
      ++evaluations_done_;
      eval_latest_ = r;
      add_eval_record(eval_history_, *r);
    }
  }
  if (!evaluator_->error().empty()) error_ = label_ + ": evaluation: " + evaluator_->error();
  if (evaluator_->idle() && evaluated_version_ != model_version_) submit_eval();
}

void CompareSlot::start_training() {
  if (trainer_) trainer_->start();
}

void CompareSlot::pause_training() {
  if (trainer_) trainer_->pause();
}

int64_t CompareSlot::train_more(int64_t n) {
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

}  // namespace diffpath::gui
