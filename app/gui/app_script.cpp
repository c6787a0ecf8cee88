// Exports (charts, CSVs, the viewport) and script commands (App members): scripted runs go
// through exactly the code a click does.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "app.hpp"
#include "diffpath/io.hpp"
#include "image_io.hpp"
#include "model_slot.hpp"
#include "params.hpp"

namespace diffpath::gui {
namespace {

void ensure_parent_dir(const std::string& path) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
  }
}

// Throws Error (with the system's reason) unless `path` can be created or overwritten.
void check_writable(const std::string& path) {
  std::error_code ec;
  const bool existed = std::filesystem::exists(path, ec);
  std::FILE* f = std::fopen(path.c_str(), "ab");
  if (!f) throw Error("cannot write " + path + ": " + std::strerror(errno));
  std::fclose(f);
  if (!existed) std::filesystem::remove(path, ec);
}

}  // namespace

void App::export_chart(const std::string& name, const std::string& path) {
  const auto id = parse_chart_name(name);
  if (!id) throw Error("unknown chart '" + name + "' (loss, nll-step, nll-eta, w2, action, c-map, delta-log-q)");
  ensure_parent_dir(path);
  charts_.export_chart(*id, *session_, session_->experiment().eta, eta_.max(), path);
  status_ = "wrote " + path;
}

void App::export_csv(const std::string& kind, const std::string& path) {
  ensure_parent_dir(path);
  if (kind == "trajectories" || kind == "samples") {
    auto s = session_->full_sample();
    if (!s) throw Error("no samples yet");
    if (kind == "samples") write_points_csv(path, s->result.samples);
    else write_trajectories_csv(path, s->result.frame_steps, s->result.frame_times, s->result.frames,
                                s->result.action.size() ? &s->result.action : nullptr);
  } else if (kind == "nll") {
    auto e = session_->main().evaluation();
    if (!e) throw Error("no likelihood evaluation yet");
    Eigen::MatrixXd rows(Eigen::Index(e->summary.points.size()), 5);
    for (size_t i = 0; i < e->summary.points.size(); ++i) {
      const auto& p = e->summary.points[i];
      rows.row(Eigen::Index(i)) << e->x0(0, Eigen::Index(i)), e->x0(1, Eigen::Index(i)), p.nll, p.c, p.ok ? 1.0 : 0.0;
    }
    write_table_csv(path, {"x", "y", "nll", "c", "ok"}, rows);
  } else if (kind == "loss") {
    const auto& h = session_->main().trainer_status().history;
    Eigen::MatrixXd rows(Eigen::Index(h.size()), 2);
    for (size_t i = 0; i < h.size(); ++i) rows.row(Eigen::Index(i)) << double(h[i].step), h[i].loss;
    write_table_csv(path, {"step", "loss"}, rows);
  } else if (kind == "eval-history") {
    const auto& h = session_->main().eval_history();
    Eigen::MatrixXd rows(Eigen::Index(h.size()), 11);
    for (size_t i = 0; i < h.size(); ++i)
      rows.row(Eigen::Index(i)) << double(h[i].step), h[i].nll, h[i].nll_se, h[i].wkb, h[i].wkb_se,
          h[i].kl_actions, h[i].kl_actions_se, h[i].kl_loss, h[i].kl_loss_se, h[i].loss_star,
          h[i].loss_star_se;
    write_table_csv(path, {"step", "nll", "nll_se", "wkb", "wkb_se", "kl_actions", "kl_actions_se",
                           "kl_loss", "kl_loss_se", "loss_star", "loss_star_se"},
                    rows);
  } else if (kind == "w2") {
    auto w = session_->w2();
    if (!w) throw Error("no W2 sweep yet (press 'W2 sweep')");
    Eigen::MatrixXd rows(Eigen::Index(w->points.size()), 3);
    for (size_t i = 0; i < w->points.size(); ++i)
      rows.row(Eigen::Index(i)) << w->points[i].eta, w->points[i].mean, w->points[i].se;
    write_table_csv(path, {"eta", "w2_squared", "se"}, rows);
  } else {
    throw Error("unknown csv kind '" + kind + "' (trajectories, samples, nll, loss, eval-history, w2)");
  }
  status_ = "wrote " + path;
}

void App::export_animation(const std::string& kind, const std::string& path, int frames, int width,
                           int height) {
  if (kind != "time" && kind != "eta" && kind != "training")
    throw Error("export-animation: kind is time, eta or training, not '" + kind + "'");
  if (frames < 2) throw Error("export-animation: at least 2 frames");
  ensure_parent_dir(path);
  check_writable(path);
  video_format_for_path(path);  // a bad extension fails now, not in the background
  const Experiment& e = session_->experiment();
  AnimationRequest r;
  AnimationOptions& o = r.options;
  o.kind = kind == "eta" ? AnimationKind::Eta : kind == "training" ? AnimationKind::Training : AnimationKind::Time;
  if (o.kind == AnimationKind::Training) {
    // A fresh network of the experiment's architecture on its data, trained in the job.
    if (session_->data().rows() != 2) throw Error("export-animation: needs 2D data");
    r.training = make_train_config(e, session_->data());
    r.training->initial.reset();
    r.training->threads = 2;
    r.training->nice = 0;  // the job itself runs at nice 5
    r.schedule = e.schedule;
    r.caption = e.data_spec() + " · " + e.schedule.spec() + " · mlp (training)";
  } else {
    r.model = session_->view_model();
    r.schedule = session_->view_schedule();
    if (!r.model || r.model->dim() != 2) throw Error("export-animation: needs a 2D model");
    r.data = session_->data();
    r.caption = view_caption();
  }
  if (o.kind == AnimationKind::Eta) {
    o.etas.clear();
    for (int k = 0; k < frames; ++k) o.etas.push_back(double(k) / (frames - 1));
  } else {
    o.etas = {e.eta};
    o.frames = frames;
  }
  o.n = std::min(e.particles, 2000);
  o.steps = e.steps;
  o.seed = e.seed;
  o.style = scene_style(view_opt_, e.trail_every);  // the window's look
  o.threads = 2;
  o.video.width = width;
  o.video.height = height;
  o.video.fps = 24;
  r.path = path;
  animation_job_->submit(std::move(r));
  status_ = "rendering animation " + path + " in the background";
}

std::string App::view_caption() const {
  return session_->experiment().data_spec() + " · " + session_->view_schedule().spec() + " · " +
         session_->view_slot().label();
}

void App::export_viewport(const std::string& path) {
  ensure_parent_dir(path);
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".svg" || ext == ".SVG") {
    // The core scene at the camera on screen, with the animations' legend.
    const auto sample = session_->sample();
    if (!sample) throw Error("no trajectories yet");
    const std::string text = viewport_.svg(playback_.t, view_opt_, scene_legend(view_caption(), sample->eta, playback_.t));
    const std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary);
      out << text;
      if (!out) throw Error("cannot write " + path);
    }
    std::filesystem::rename(tmp, path);
  } else {
    int w = 0, h = 0;
    const auto px = viewport_.capture(w, h);
    if (px.empty()) throw Error("the viewport has not been drawn yet");
    write_png_rgba(path, px, w, h);
  }
  status_ = "wrote " + path;
}

std::string App::take_screenshot_request() {
  std::string s;
  s.swap(screenshot_request_);
  return s;
}

// ---------------------------------------------------------------- scripting

void App::set_field(const std::string& key, const std::string& value) {
  Experiment next = edit_;
  if (const Param* p = find_param(key)) {
    // A number of the parameter table; its range is Experiment::validate()'s (via apply).
    const double v = parse_number(value, "set " + key);
    if (p->integer && v != std::floor(v)) throw Error("set " + key + ": " + p->range_text());
    p->set(next, v);
  } else if (key == "schedule") {
    next.schedule = Schedule::parse(value);
  } else if (key == "data") {
    next.data = value;
  } else if (key == "model") {
    next.model = parse_model_kind(value);
  } else if (key == "checkpoint") {
    next.checkpoint = value;
    next.model = ModelKind::Checkpoint;
  } else if (key == "trail-color") {
    if (value != "time" && value != "action") throw Error("set trail-color: time or action");
    view_opt_.trail_color = value == "time" ? TrailColor::Time : TrailColor::Action;
    return;
  } else if (key == "overlay") {
    if (value != "none" && value != "score" && value != "density" && value != "both" &&
        value != "density-delta")
      throw Error("set overlay: none, score, density, density-delta or both");
    view_opt_.show_score = value == "score" || value == "both";
    view_opt_.show_density = value == "density" || value == "both" || value == "density-delta";
    view_opt_.density_delta = value == "density-delta";
    return;
  } else if (key == "c-map") {
    if (value != "c" && value != "delta") throw Error("set c-map: c or delta");
    chart_delta_log_q_ = value == "delta";
    return;
  } else if (key == "time") {
    const Schedule& sc = session_->view_schedule();
    playback_.t = std::clamp(parse_number(value, "set time"), sc.t_min, sc.t_max);
    playback_.playing = false;
    playback_.at_end = playback_.t <= sc.t_min;
    return;
  } else {
    std::string keys;
    for (const Param& p : params()) keys += std::string(" ") + p.key;
    throw Error("set: unknown setting '" + key + "' (schedule data model checkpoint trail-color overlay c-map time" +
                keys + ")");
  }
  if (!apply(next)) throw Error("set " + key + ": " + session_->error());
}

void App::compare_command(const std::vector<std::string>& a) {
  Experiment next = edit_;
  if (a[0] == "clear" && a.size() == 1) {
    next.compare.clear();
  } else if (a[0] == "remove" && a.size() == 2) {
    const double k = parse_number(a[1], "compare remove");
    if (k != std::floor(k) || k < 1 || k > double(next.compare.size()))
      throw Error("compare remove: no compared model " + a[1]);
    next.compare.erase(next.compare.begin() + int(k) - 1);
  } else if (a[0] == "add" && a.size() >= 3 && a.size() <= 4) {
    CompareSpec c;
    c.schedule = Schedule::parse(a[1]);
    c.model = parse_model_kind(a[2]);
    if (c.model == ModelKind::Gaussian) throw Error("compare add: gaussian is only a main model");
    if (a.size() > 3) c.checkpoint = a[3];
    next.compare.push_back(c);
  } else {
    throw Error("compare: expected 'add SCHEDULE KIND [FILE]', 'remove K' or 'clear'");
  }
  apply(next);
  if (!session_->error().empty()) throw Error(session_->error());
}

void App::run_command(const ScriptCommand& c) {
  const auto& a = c.args;
  if (c.name == "load-preset") {
    if (!apply(load_preset(a[0]))) throw Error(session_->error());
  } else if (c.name == "save-preset") {
    ensure_parent_dir(a[0]);
    save_preset(session_->experiment(), a[0]);
  } else if (c.name == "set") {
    set_field(a[0], a[1]);
  } else if (c.name == "compare") {
    compare_command(a);
  } else if (c.name == "view") {
    const double k = parse_number(a[0], "view");
    const size_t n = session_->slots().size();
    if (k != std::floor(k) || k < 0 || k >= double(n))
      throw Error("view: expected 0 (main model) .. " + std::to_string(n - 1));
    session_->set_view_index(size_t(k));
  } else if (c.name == "start-training") {
    session_->start_training();
  } else if (c.name == "pause-training") {
    session_->pause_training();
  } else if (c.name == "reset-training") {
    session_->reset_training();
  } else if (c.name == "w2-sweep") {
    w2_target_ = session_->w2_done() + 1;
    session_->request_w2_sweep();
    if (!session_->error().empty()) throw Error(session_->error());
  } else if (c.name == "play") {
    playback_.play(session_->view_schedule().t_max);
  } else if (c.name == "export-chart") {
    export_chart(a[0], a[1]);
  } else if (c.name == "export-csv") {
    export_csv(a[0], a[1]);
  } else if (c.name == "export-animation") {
    export_animation(a[0], a[1], a.size() > 2 ? int(parse_number(a[2], "export-animation")) : 60);
  } else if (c.name == "export-viewport") {
    export_viewport(a[0]);
  } else if (c.name == "screenshot") {
    // The window is captured after this frame is drawn: check the path now, so that a bad
    // one is an error of this line (expect-error can catch it).
    ensure_parent_dir(a[0]);
    check_writable(a[0]);
    screenshot_request_ = a[0];
  } else {
    throw Error("command '" + c.name + "' cannot run here");
  }
}

bool App::poll_wait(const ScriptCommand& c, bool first) {
  if (c.name == "frames") {
    if (first) frames_left_ = int(parse_number(c.args[0], "frames"));
    return frames_left_-- <= 0;
  }
  if (c.name == "train-steps") {
    ModelSlot& main = session_->main();
    if (!main.trains()) throw Error("train-steps: the model is not a trained MLP");
    if (first) {
      const double n = parse_number(c.args[0], "train-steps");
      if (n < 1) throw Error("train-steps: expected a positive count");
      wait_steps_target_ = main.train_more(int64_t(n));
    }
    const auto& st = main.trainer_status();
    if (st.state == TrainerState::Failed)
      throw Error(main.error().empty() ? std::string("training failed") : main.error());
    return st.steps >= wait_steps_target_;
  }
  if (c.name == "wait-sample") {
    if (first) wait_model_version_ = session_->view_version();
    return session_->sample_current(wait_model_version_);
  }
  if (c.name == "wait-eval") {
    if (first) {
      wait_model_version_ = session_->main().model_version();
      // A training model: the snapshot the session holds may predate the steps trained so far
      // (snapshots arrive every 500 steps or ms), so also wait for one that includes them —
      // "train-steps N" then "wait-eval" evaluates the network after those N steps.
      wait_eval_step_ = session_->main().trains() ? session_->main().trainer_status().steps : 0;
    }
    const ModelSlot& main = session_->main();
    auto e = main.evaluation();
    if (!e && !main.eval_busy() && main.model() && main.model()->max_order() < 3)
      throw Error("wait-eval: the model has no third derivatives");
    // Failed training published its last good snapshot and stopped: that one is what there
    // is to evaluate (its step is below the steps tried).
    if (main.trains() && main.trainer_status().state == TrainerState::Failed)
      return e && e->model_version >= main.model_version();
    return e && e->model_version >= wait_model_version_ && e->step >= wait_eval_step_;
  }
  if (c.name == "wait-nll-eta") {
    const auto& slots = session_->slots();
    if (first) {
      wait_nll_eta_versions_.clear();
      for (const auto& sl : slots) wait_nll_eta_versions_.push_back(sl->model_version());
    }
    for (size_t k = 0; k < slots.size(); ++k) {
      const ModelSlot& sl = *slots[k];
      if (!sl.error().empty()) throw Error(sl.error());
      auto r = sl.nll_eta();
      const uint64_t want = k < wait_nll_eta_versions_.size() ? wait_nll_eta_versions_[k] : 0;
      if (!r || r->coarse || r->model_version < want) return false;
    }
    return true;
  }
  if (c.name == "wait-animation") {
    if (!animation_job_->idle()) return false;
    if (!animation_job_->error().empty()) throw Error("animation: " + animation_job_->error());
    return true;
  }
  if (c.name == "wait-overlay") {
    if (!view_opt_.show_score && !view_opt_.show_density) throw Error("wait-overlay: no overlay is on");
    auto o = overlay_job_->latest();
    const bool density_current = !view_opt_.show_density ||
                                 (o && o->nx > 0 && o->delta == (view_opt_.density_delta && session_->experiment().eta > 0) &&
                                  o->density_eta == session_->experiment().eta);
    return o && !o->coarse && o->t == playback_.t && density_current &&
           (!view_opt_.show_score || !o->arrows.empty());
  }
  if (c.name == "wait-compare") {
    for (size_t k = 1; k < session_->slots().size(); ++k) {
      const ModelSlot* sl = session_->slots()[k].get();
      if (!sl->error().empty()) throw Error(sl->error());
      if (sl->model()->max_order() < 3) continue;  // cannot be evaluated
      if (!sl->evaluation()) return false;
    }
    return true;
  }
  if (c.name == "wait-w2") {
    if (w2_target_ == 0) throw Error("wait-w2: no sweep was started (w2-sweep)");
    return session_->w2_done() >= w2_target_ && !session_->w2_busy();
  }
  throw Error("command '" + c.name + "' does not wait");
}

}  // namespace diffpath::gui
