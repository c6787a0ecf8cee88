// The control panels of the app (App members): η, experiment, score model, compared models,
// view options, export. Each edits a copy of the experiment and hands it to App::apply — the
// one way a change reaches the session.
#include <algorithm>
#include <functional>

#include <imgui.h>

#include "app.hpp"
#include "diffpath/dataset.hpp"
#include "params.hpp"
#include "ui_util.hpp"

namespace diffpath::gui {
namespace {

const char* kSchedules[] = {"simple", "cosine", "linear"};
const char* kModels[] = {"trained MLP (live)", "exact score", "Gaussian linear (eps, delta)",
                         "checkpoint file"};

// An input box for a row of the parameter table: Enter applies the typed value as it is (the
// range is checked once, by Experiment::validate() in Session::apply; the status line shows a
// rejection). The tooltip is the table's help and range.
bool param_input(const char* label, const char* key, Experiment& next, double step) {
  const Param& p = *find_param(key);
  bool entered = false;
  double v = p.get(next);
  if (p.integer) {
    int i = int(v);
    entered = ImGui::InputInt(label, &i, int(step), int(step) * 5, ImGuiInputTextFlags_EnterReturnsTrue);
    v = i;
  } else {
    entered = ImGui::InputDouble(label, &v, step, step * 5, "%.3g", ImGuiInputTextFlags_EnterReturnsTrue);
  }
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s\n%s", p.help, p.range_text().c_str());
  if (entered) p.set(next, v);
  return entered;
}

}  // namespace

void App::eta_panel(double dt) {
  (void)dt;
  ImGui::TextUnformatted("η  (0 = probability-flow ODE, 1 = reverse SDE)");
  if (edit_.eta > kEtaFine && !eta_.sweep.running) eta_.fine = false;  // the value must be on the slider
  float eta = float(edit_.eta);
  const float hi = float(eta_.max());
  ImGui::SetNextItemWidth(-1);
  if (ImGui::SliderFloat("##eta", &eta, 0.0f, hi, "eta = %.4f")) {
    edit_.eta = eta;   // the slider stays in [0, hi]
    eta_.sweep.running = false;
    apply(edit_);
  }
  ImGui::Checkbox("fine [0, 0.2]", &eta_.fine);   // kEtaFine
  ImGui::SameLine();
  ImGui::SetNextItemWidth(90);
  double e = edit_.eta;
  if (ImGui::InputDouble("##etaval", &e, 0.0, 0.0, "%.4f", ImGuiInputTextFlags_EnterReturnsTrue)) {
    Experiment next = edit_;
    next.eta = e;     // out of [0, 1]: apply refuses it, the status line says why
    apply(next);
  }
  ImGui::SameLine();
  ImGui::Checkbox("sweep", &eta_.sweep.running);
  help_marker("Common random numbers: every particle keeps its start point and noise, so "
              "dragging eta morphs each trajectory. 'sweep' animates eta back and forth.");
  ImGui::Separator();
}

void App::experiment_panel() {
  if (!ImGui::CollapsingHeader("Experiment", ImGuiTreeNodeFlags_DefaultOpen)) return;
  Experiment next = edit_;
  bool changed = false;

  // Data set.
  const auto names = dataset_names();
  std::string label = next.data.rfind("csv:", 0) == 0 ? "csv file" : next.data;
  if (next.model == ModelKind::Gaussian) label = "gaussian (set by the model)";
  if (ImGui::BeginCombo("data", label.c_str())) {
    for (const auto& n : names) {
      if (n.rfind("gaussian", 0) == 0) continue;  // parametrised: chosen via the Gaussian model
      if (ImGui::Selectable(n.c_str(), next.data == n)) {
        next.data = n;
        changed = true;
      }
    }
    if (ImGui::Selectable("draw your own", next.data == "drawn")) {
      next.data = "drawn";
      view_opt_.paint = true;
      changed = next.drawn.cols() >= 2;
      if (!changed) edit_.data = "drawn";
    }
    ImGui::EndCombo();
  }
  ImGui::SetNextItemWidth(220);
  ImGui::InputText("##csv", csv_path_, sizeof csv_path_);
  ImGui::SameLine();
  if (ImGui::Button("load csv")) {
    next.data = std::string("csv:") + csv_path_;
    changed = true;
  }
  if (next.data == "drawn" || edit_.data == "drawn") {
    ImGui::Checkbox("paint on canvas", &view_opt_.paint);
    ImGui::SameLine();
    ImGui::Text("%d pts", int(edit_.drawn.cols()));
    ImGui::SameLine();
    if (ImGui::SmallButton("clear")) {
      edit_.drawn.resize(2, 0);
      view_opt_.paint = true;
    }
  }
  changed |= param_input("points", "n-data", next, 500);

  // Schedule.
  int sk = int(next.schedule.kind);
  if (ImGui::Combo("schedule", &sk, kSchedules, 3)) {
    next.schedule = sk == 0 ? Schedule::simple() : sk == 1 ? Schedule::cosine() : Schedule::linear();
    changed = true;
  }
  if (next.schedule.kind == ScheduleKind::Linear) {
    float b[2] = {float(next.schedule.beta_min), float(next.schedule.beta_max)};
    ImGui::DragFloat2("beta min/max", b, 0.05f, 0.0f, 50.0f, "%.2f");
    // Applied on release: every change of the schedule retrains the network.
    if (ImGui::IsItemDeactivatedAfterEdit() || (ImGui::IsItemEdited() && !ImGui::IsItemActive())) {
      next.schedule.beta_min = b[0];
      next.schedule.beta_max = std::max(b[1], b[0] + 0.01f);
      changed = true;
    } else if (ImGui::IsItemActive()) {
      edit_.schedule.beta_min = b[0];
      edit_.schedule.beta_max = b[1];
    }
  }

  // Sampling.
  changed |= param_input("seed", "seed", next, 1);
  changed |= param_input("particles", "particles", next, 500);
  changed |= param_input("steps", "steps", next, 100);
  if (changed) apply(next);
}

void App::model_panel() {
  if (!ImGui::CollapsingHeader("Score model", ImGuiTreeNodeFlags_DefaultOpen)) return;
  Experiment next = edit_;
  bool changed = false;
  int mk = int(next.model);
  if (ImGui::Combo("model", &mk, kModels, 4)) {
    next.model = ModelKind(mk);
    changed = next.model != ModelKind::Checkpoint || !next.checkpoint.empty();
  }
  if (next.model == ModelKind::Gaussian) {
    float v[2] = {float(next.gauss_eps), float(next.gauss_delta)};
    ImGui::DragFloat2("eps, delta", v, 0.005f, -0.9f, 2.0f, "%.3f");
    if (ImGui::IsItemDeactivatedAfterEdit()) {
      next.gauss_eps = v[0];
      next.gauss_delta = v[1];
      changed = true;
    }
    help_marker("s = -(x - a)/b with a = alpha m + delta, b = (1 + eps)(alpha^2 v + sigma^2): "
                "a deliberately wrong linear score; its exact NLL(eta) is known in closed form.");
  }
  if (next.model == ModelKind::Checkpoint || next.model == ModelKind::Mlp) {
    ImGui::SetNextItemWidth(200);
    ImGui::InputText("##ckpt", checkpoint_path_, sizeof checkpoint_path_);
    ImGui::SameLine();
    if (ImGui::Button("load")) {
      next.model = ModelKind::Checkpoint;
      next.checkpoint = checkpoint_path_;
      changed = true;
    }
    if (next.model == ModelKind::Mlp) {
      ImGui::SameLine();
      if (ImGui::Button("save")) {
        try {
          session_->save_checkpoint(checkpoint_path_);
          status_ = std::string("saved checkpoint ") + checkpoint_path_;
        } catch (const std::exception& e) {
          session_->set_error(e.what());
        }
      }
    }
  }
  if (next.model == ModelKind::Mlp) {
    const auto& st = session_->main().trainer_status();
    const bool running = st.state == TrainerState::Running;
    if (ImGui::Button(running ? "Pause training" : "Start training")) {
      if (running) session_->pause_training();
      else session_->start_training();
    }
    ImGui::SameLine();
    if (ImGui::Button("Reset")) session_->reset_training();
    help_marker("Reset trains a fresh network from scratch (LeCun-normal weights). Changing the "
                "data or the schedule instead starts from the shipped network for them, if any.");
    ImGui::Text("step %lld  loss %.4f  %.0f steps/s", (long long)st.steps, st.smoothed_loss,
                st.steps_per_second);
    changed |= param_input("lr", "lr", next, 0);
    changed |= param_input("batch", "batch", next, 64);
    changed |= param_input("width", "width", next, 16);
    if (st.rollbacks > 0) ImGui::TextColored(ImVec4(1, 0.7f, 0.3f, 1), "%lld rollbacks: %s",
                                             (long long)st.rollbacks, st.message.c_str());
  }
  if (changed) apply(next);
}

void App::compare_panel() {
  if (!ImGui::CollapsingHeader("Compare models", ImGuiTreeNodeFlags_DefaultOpen)) return;
  // The viewport samples one model; the charts overlay all of them (same colours).
  int view = int(session_->view_index());
  const auto& slots = session_->slots();
  int remove = -1;   // compared model to drop (slot index)
  for (size_t k = 0; k < slots.size(); ++k) {
    const ModelSlot& sl = *slots[k];
    ImGui::PushID(int(k));
    const Color c = sl.color();
    ImGui::ColorButton("##c", ImVec4(float(c.r), float(c.g), float(c.b), 1.0f),
                       ImGuiColorEditFlags_NoTooltip | ImGuiColorEditFlags_NoPicker, ImVec2(12, 12));
    ImGui::SameLine();
    if (ImGui::RadioButton(sl.label().c_str(), &view, int(k))) session_->set_view_index(k);
    if (k > 0) {   // the main model is set up above, not removed here
      ImGui::SameLine();
      if (ImGui::SmallButton("x")) remove = int(k);
      if (sl.trains())
        ImGui::TextDisabled("   step %lld, loss %.3f", (long long)sl.trainer_status().steps,
                            sl.trainer_status().smoothed_loss);
      if (sl.eval_busy()) ImGui::TextDisabled("   evaluating %3.0f%%", 100 * sl.eval_progress());
      else if (auto e = sl.evaluation())
        ImGui::TextDisabled("   NLL(0) %.3f, E[-c] %.2f", e->summary.nll_mean, e->summary.wkb_mean);
    }
    ImGui::PopID();
  }
  if (remove > 0) {
    Experiment next = edit_;
    next.compare.erase(next.compare.begin() + (remove - 1));
    apply(next);
  }
  static const char* kAddModels[] = {"checkpoint (shipped)", "live MLP", "exact score"};
  static const ModelKind kAddKinds[] = {ModelKind::Checkpoint, ModelKind::Mlp, ModelKind::Exact};
  ImGui::SetNextItemWidth(80);
  ImGui::Combo("##addsched", &add_schedule_, kSchedules, 2);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(150);
  ImGui::Combo("##addmodel", &add_model_, kAddModels, 3);
  ImGui::SameLine();
  if (ImGui::Button("add") && edit_.compare.size() < kMaxCompared) {
    Experiment next = edit_;
    CompareSpec c;
    c.schedule = add_schedule_ == 0 ? Schedule::simple() : Schedule::cosine();
    c.model = kAddKinds[add_model_];
    next.compare.push_back(c);
    apply(next);
  }
  help_marker("Models side by side on the same data: e.g. the simple and the cosine schedule. "
              "Each has its own trainer and evaluator; the loss, NLL/E[-c] and NLL(eta) charts "
              "overlay them in the colours shown. The radio button picks the model the "
              "viewport samples. A live MLP costs a CPU core while it trains.");
}

void App::view_panel() {
  if (!ImGui::CollapsingHeader("View", ImGuiTreeNodeFlags_DefaultOpen)) return;
  ImGui::Checkbox("particles", &view_opt_.show_particles);
  ImGui::SameLine();
  ImGui::Checkbox("trails", &view_opt_.show_trails);
  ImGui::SameLine();
  ImGui::Checkbox("data", &view_opt_.show_data);
  int mode = int(view_opt_.trail_color);
  ImGui::RadioButton("colour by time", &mode, 0);
  ImGui::SameLine();
  ImGui::RadioButton("by action", &mode, 1);
  view_opt_.trail_color = TrailColor(mode);
  int every = edit_.trail_every;
  if (ImGui::SliderInt("trail every k", &every, 1, 100)) {
    Experiment next = edit_;
    next.trail_every = every;
    apply(next);
  }
  ImGui::Checkbox("score field s(x,t)", &view_opt_.show_score);
  ImGui::SameLine();
  ImGui::Checkbox("log-density", &view_opt_.show_density);
  ImGui::Checkbox("density minus η = 0", &view_opt_.density_delta);
  help_marker("Score arrows: s(x, t) of the viewed model at the scrubber's time, length up to "
              "the 90th percentile of |s|. Log-density: log q_t^η(x) of the η-model at the "
              "slider's η and the scrubber's time, from its Fokker-Planck equation solved on a "
              "grid from Tmax down to t (magma over the 12 nats below the peak); at t = Tmin "
              "it is the model's data density. 'minus η = 0' shows log q_t^η − log q_t⁰ instead "
              "(red: noise moves mass there). Both are computed in the background (coarse grid "
              "first); the caption says when the grid cannot resolve the model.");
  ImGui::Checkbox("c-map: Δ log q at η", &chart_delta_log_q_);
  help_marker("The last chart shows, per evaluation point, log q^η − log q⁰ of the NLL(η) "
              "estimator at the current η (linear between its η grid nodes) instead of c(x₀), "
              "its slope at η = 0. Where the two maps differ, first order does not hold.");
  ImGui::SliderFloat("point size", &view_opt_.particle_size, 1.0f, 10.0f, "%.1f");
  ImGui::SliderFloat("trail opacity", &view_opt_.trail_alpha, 0.05f, 1.0f, "%.2f");
  if (ImGui::Button("fit view")) viewport_.fit(session_->data());
  ImGui::SameLine();
  if (ImGui::Button("W2 sweep")) {
    session_->request_w2_sweep();
    status_ = "W2(eta) sweep started";
  }
}

// Export → Animation: kind, frames, size and format; rendered in the background (progress,
// cancel), the file named after the kind in the export folder.
void App::animation_section(const std::string& dir) {
  ImGui::Separator();
  ImGui::TextUnformatted("Animation of the viewed model");
  ImGui::RadioButton("time flow at η", &anim_kind_, 0);
  ImGui::SameLine();
  ImGui::RadioButton("η morph 0 → 1", &anim_kind_, 1);
  ImGui::SameLine();
  ImGui::RadioButton("training", &anim_kind_, 2);
  if (anim_kind_ == 2 && ImGui::IsItemHovered())
    ImGui::SetTooltip("a fresh network of this architecture trained on the data, %d steps",
                      int(AnimationOptions{}.train_steps));
  ImGui::SliderInt("frames", &anim_frames_, 2, 240);
  static const char* kSizes[] = {"640x360", "1280x720", "480x480"};
  static const char* kFormats[] = {"mp4", "webm", "gif"};
  ImGui::Combo("size", &anim_size_, kSizes, 3);
  ImGui::Combo("format", &anim_format_, kFormats, 3);
  if (animation_job_->busy()) {
    ImGui::ProgressBar(float(animation_job_->progress()), ImVec2(-80, 0));
    ImGui::SameLine();
    if (ImGui::Button("cancel")) {
      animation_job_->cancel();
      status_ = "animation cancelled (no file written)";
    }
  } else if (ImGui::Button("render animation")) {
    static const char* kKinds[] = {"time", "eta", "training"};
    static const char* kNames[] = {"time-flow.", "eta-morph.", "training."};
    const std::string path = dir + "/" + kNames[anim_kind_] + kFormats[anim_format_];
    int w = 640, h = 360;
    std::sscanf(kSizes[anim_size_], "%dx%d", &w, &h);
    try {
      export_animation(kKinds[anim_kind_], path, anim_frames_, w, h);
    } catch (const std::exception& e) {
      session_->set_error(e.what());
    }
  }
  if (const uint64_t v = animation_job_->version(); v != animation_seen_) {
    animation_seen_ = v;
    if (auto r = animation_job_->latest())
      status_ = "wrote animation " + r->path + " (" + std::to_string(r->report.frames) + " frames)";
  }
  if (const std::string err = animation_job_->error(); !err.empty())
    ImGui::TextColored(ImVec4(1, 0.4f, 0.4f, 1), "animation: %s", err.c_str());
}

void App::export_panel() {
  if (!ImGui::CollapsingHeader("Export")) return;
  ImGui::InputText("folder", export_dir_, sizeof export_dir_);
  const std::string dir = export_dir_;
  auto guarded = [&](const std::function<void()>& f) {
    try {
      f();
    } catch (const std::exception& e) {
      session_->set_error(e.what());
    }
  };
  static const char* kFormats[] = {"png", "svg", "pdf"};
  for (const char* fmt : kFormats) {
    if (ImGui::Button((std::string("charts .") + fmt).c_str())) {
      guarded([&] {
        for (int i = 0; i < kChartCount; ++i)
          export_chart(chart_name(ChartId(i)), dir + "/" + chart_name(ChartId(i)) + "." + fmt);
        status_ = "wrote " + std::to_string(kChartCount) + " charts (" + fmt + ") to " + dir;
      });
    }
    ImGui::SameLine();
  }
  if (ImGui::Button("viewport .png")) guarded([&] { export_viewport(dir + "/viewport.png"); });
  ImGui::SameLine();
  if (ImGui::Button("viewport .svg")) guarded([&] { export_viewport(dir + "/viewport.svg"); });
  static const char* kCsv[] = {"trajectories", "samples", "nll", "loss", "eval-history", "w2"};
  for (int i = 0; i < 6; ++i) {
    if (i % 3) ImGui::SameLine();
    if (ImGui::Button(kCsv[i])) guarded([&] { export_csv(kCsv[i], dir + "/" + kCsv[i] + ".csv"); });
  }
  animation_section(dir);
  ImGui::InputText("preset", preset_path_, sizeof preset_path_);
  if (ImGui::Button("save preset")) guarded([&] {
    save_preset(session_->experiment(), preset_path_);
    status_ = std::string("saved preset ") + preset_path_;
  });
  ImGui::SameLine();
  if (ImGui::Button("load preset")) guarded([&] {
    apply(load_preset(preset_path_));
    status_ = std::string("loaded preset ") + preset_path_;
  });
}

}  // namespace diffpath::gui
