#include "app.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <imgui.h>

#include "diffpath/dataset.hpp"
#include "diffpath/io.hpp"
#include "image_io.hpp"

namespace diffpath::gui {
namespace {

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

constexpr float kControlsWidth = 340.0f;
constexpr float kChartsWidth = 600.0f;
constexpr float kStatusHeight = 26.0f;

const char* kSchedules[] = {"simple", "cosine", "linear"};
const char* kModels[] = {"trained MLP (live)", "exact score", "Gaussian linear (eps, delta)",
                         "checkpoint file"};

ImGuiWindowFlags fixed_window() {
  return ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse |
         ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoBringToFrontOnFocus;
}

void help_marker(const char* text) {
  ImGui::SameLine();
  ImGui::TextDisabled("(?)");
  if (ImGui::IsItemHovered()) {
    ImGui::BeginTooltip();
    ImGui::PushTextWrapPos(ImGui::GetFontSize() * 28.0f);
    ImGui::TextUnformatted(text);
    ImGui::PopTextWrapPos();
    ImGui::EndTooltip();
  }
}

void ensure_parent_dir(const std::string& path) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
  }
}

}  // namespace

App::App(const Experiment& initial, bool autostart_training)
    : session_(std::make_unique<Session>(initial, autostart_training)),
      overlay_job_(make_overlay_job()) {
  edit_ = session_->experiment();
  playback_.t = edit_.schedule.t_min;
  status_ = "ready";
}

App::~App() {
  overlay_job_.reset();
  charts_.release();
  session_.reset();
}

void App::init_graphics() {
  graphics_ready_ = viewport_.init();
  if (!graphics_ready_) session_->set_error(viewport_.error());
  viewport_.set_data(session_->data());
  viewport_.fit(session_->data());
  fit_for_data_ = edit_.data_spec();
}

void App::apply(const Experiment& next) {
  if (session_->apply(next)) {
    if (next.data_spec() != fit_for_data_ || next.data == "drawn") {
      viewport_.set_data(session_->data());
      if (next.data != "drawn") viewport_.fit(session_->data());
      fit_for_data_ = next.data_spec();
    }
  }
  edit_ = session_->experiment();
}

// ---------------------------------------------------------------- frame

void App::frame(int window_w, int window_h, double dt) {
  const double t0 = now_seconds();
  session_->tick(t0);
  const double t1 = now_seconds();
  if (eta_.sweep.running) {
    edit_.eta = eta_.sweep.advance(dt, 0.0, eta_.fine ? 0.2 : 1.0);
    apply(edit_);
  }
  const Schedule& sc = session_->view_schedule();
  playback_.advance(dt, sc.t_min, sc.t_max);

  viewport_.set_sample(session_->sample(), session_->experiment().trail_every);
  update_overlays(now_seconds());
  viewport_.set_evaluation(session_->view_slot().evaluation());
  const float w = float(window_w), h = float(window_h) - kStatusHeight;
  const float charts_w = std::min(kChartsWidth, std::max(300.0f, w * 0.36f));
  const float view_w = w - kControlsWidth - charts_w;
  charts_.update(*session_, session_->experiment().eta, eta_.fine ? 0.2 : 1.0, int(charts_w * 0.5f - 12), int((h - 40) / 3 - 8),
                 now_seconds());
  const double t2 = now_seconds();

  draw_controls(kControlsWidth, h);
  draw_viewport(kControlsWidth, view_w, h);
  draw_charts(kControlsWidth + view_w, charts_w, h);
  draw_status(h, w, kStatusHeight);
  const double t3 = now_seconds();
  profile_.tick_ms = 1e3 * (t1 - t0);
  profile_.charts_ms = 1e3 * (t2 - t1);
  profile_.panels_ms = 1e3 * (t3 - t2);
  profile_.chart_uploads = charts_.uploads_last_update();
}

void App::draw_controls(float w, float h) {
  ImGui::SetNextWindowPos(ImVec2(0, 0));
  ImGui::SetNextWindowSize(ImVec2(w, h));
  ImGui::Begin("Controls", nullptr, fixed_window());
  eta_panel(ImGui::GetIO().DeltaTime);
  experiment_panel();
  model_panel();
  compare_panel();
  view_panel();
  export_panel();
  ImGui::End();
}

void App::draw_viewport(float x, float w, float h) {
  ImGui::SetNextWindowPos(ImVec2(x, 0));
  ImGui::SetNextWindowSize(ImVec2(w, h));
  ImGui::PushStyleVar(ImGuiStyleVar_WindowPadding, ImVec2(4, 4));
  ImGui::Begin("Viewport", nullptr, fixed_window() | ImGuiWindowFlags_NoScrollbar);
  const Schedule& sc = session_->view_schedule();

  // Time scrubber: t runs from Tmax (noise) on the left to Tmin (data) on the right, the
  // direction the sampler goes.
  if (ImGui::Button(playback_.playing ? "Pause" : "Play")) {
    if (playback_.playing) playback_.playing = false;
    else playback_.play(sc.t_max);
  }
  ImGui::SameLine();
  float tf = float(playback_.t);
  const float rev = float(sc.t_max + sc.t_min) - tf;  // slider position: left = Tmax
  float pos = rev;
  ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x - 150);
  if (ImGui::SliderFloat("##time", &pos, float(sc.t_min), float(sc.t_max), "")) {
    playback_.t = sc.t_max + sc.t_min - pos;
    playback_.playing = false;
    playback_.at_end = playback_.t <= sc.t_min + 1e-9;
  }
  ImGui::SameLine();
  ImGui::Text("t = %.3f", playback_.t);
  help_marker("The reverse-time sampler runs from Tmax (pure noise, left) to Tmin (data, right). "
              "Drag to scrub, Play to animate. Hover a particle to see its path and action; "
              "hover a data point (after an evaluation) for its NLL and c(x0). Wheel zooms, "
              "drag pans.");

  ImVec2 avail = ImGui::GetContentRegionAvail();
  ViewportOutput out = viewport_.draw(avail, playback_.t, view_opt_);
  if (out.painted.cols() > 0) {
    Experiment next = edit_;
    next.data = "drawn";
    Points grown(2, next.drawn.cols() + out.painted.cols());
    grown << next.drawn, out.painted;
    next.drawn = grown;
    if (next.drawn.cols() >= 2) apply(next);
    else edit_ = next;
  }
  // Legend in the corner.
  auto s = session_->sample();
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImVec2 p = ImGui::GetWindowPos();
  char buf[320];
  const std::string& shown = session_->view_slot().label();
  char dens[64] = "";
  if (view_opt_.show_density)
    if (auto o = overlay_job_->latest(); o && o->nx > 0)
      std::snprintf(dens, sizeof dens, "  |  log q_t at t = %.3f%s", o->density_t, o->coarse ? " (coarse)" : "");
  std::snprintf(buf, sizeof buf, "%s  |  %s  |  eta = %.3f  |  %d particles%s%s",
                session_->experiment().data_spec().c_str(), shown.c_str(),
                session_->experiment().eta, s ? s->particles() : 0,
                s && s->coarse ? " (refining...)" : "", dens);
  dl->AddText(ImVec2(p.x + 12, p.y + h - 22), IM_COL32(220, 220, 220, 200), buf);
  ImGui::End();
  ImGui::PopStyleVar();
}

void App::draw_charts(float x, float w, float h) {
  ImGui::SetNextWindowPos(ImVec2(x, 0));
  ImGui::SetNextWindowSize(ImVec2(w, h));
  ImGui::Begin("Charts", nullptr, fixed_window());
  const float cw = ImGui::GetContentRegionAvail().x * 0.5f - 4;
  const float ch = (ImGui::GetContentRegionAvail().y - 8) / 3.0f - 4;
  for (int i = 0; i < kChartCount; ++i) {
    if (i % 2) ImGui::SameLine();
    charts_.draw(ChartId(i), cw, ch);
  }
  ImGui::End();
}

void App::draw_status(float y, float w, float h) {
  ImGui::SetNextWindowPos(ImVec2(0, y));
  ImGui::SetNextWindowSize(ImVec2(w, h));
  ImGui::PushStyleVar(ImGuiStyleVar_WindowPadding, ImVec2(8, 4));
  ImGui::Begin("Status", nullptr, fixed_window() | ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoScrollbar);
  const ModelSlot& main = session_->main();
  const auto& ts = main.trainer_status();
  if (main.trains())
    ImGui::Text("train: %s  step %lld  loss %.4f  %.0f steps/s |", trainer_state_name(ts.state),
                (long long)ts.steps, ts.smoothed_loss, ts.steps_per_second);
  else
    ImGui::Text("model: %s |", main.model() ? main.model()->spec().c_str() : "none");
  ImGui::SameLine();
  if (auto smp = session_->sample()) {
    ImGui::Text("picture %.2f s%s |", smp->seconds, smp->coarse ? " (coarse)" : "");
    ImGui::SameLine();
  }
  if (session_->sampling_busy()) {
    ImGui::Text("sampling %3.0f%% |", 100 * session_->sampling_progress());
    ImGui::SameLine();
  }
  if (main.eval_busy()) {
    ImGui::Text("evaluating %3.0f%% |", 100 * main.eval_progress());
    ImGui::SameLine();
  }
  if ((view_opt_.show_density || view_opt_.show_score) && overlay_job_->busy()) {
    ImGui::Text("overlay %3.0f%% |", 100 * overlay_job_->progress());
    ImGui::SameLine();
  }
  if (session_->w2_busy()) {
    ImGui::Text("W2 sweep %3.0f%% |", 100 * session_->w2_progress());
    ImGui::SameLine();
    if (ImGui::SmallButton("cancel")) session_->cancel_background_work();
    ImGui::SameLine();
  }
  if (!session_->error().empty()) {
    ImGui::TextColored(ImVec4(1.0f, 0.45f, 0.4f, 1.0f), "error: %s", session_->error().c_str());
    ImGui::SameLine();
    if (ImGui::SmallButton("dismiss")) session_->clear_error();
  } else {
    ImGui::TextUnformatted(status_.c_str());
  }
  ImGui::End();
  ImGui::PopStyleVar();
}

// ---------------------------------------------------------------- panels

void App::eta_panel(double dt) {
  (void)dt;
  ImGui::TextUnformatted("η  (0 = probability-flow ODE, 1 = reverse SDE)");
  if (edit_.eta > 0.2 && !eta_.sweep.running) eta_.fine = false;  // the value must be on the slider
  float eta = float(edit_.eta);
  const float hi = eta_.fine ? 0.2f : 1.0f;
  ImGui::SetNextItemWidth(-1);
  if (ImGui::SliderFloat("##eta", &eta, 0.0f, hi, "eta = %.4f")) {
    edit_.eta = std::clamp(double(eta), 0.0, 1.0);
    eta_.sweep.running = false;
    apply(edit_);
  }
  ImGui::Checkbox("fine [0, 0.2]", &eta_.fine);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(90);
  double e = edit_.eta;
  if (ImGui::InputDouble("##etaval", &e, 0.0, 0.0, "%.4f", ImGuiInputTextFlags_EnterReturnsTrue)) {
    edit_.eta = std::clamp(e, 0.0, 1.0);
    apply(edit_);
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
  int n_data = next.n_data;
  if (ImGui::InputInt("points", &n_data, 500, 1000, ImGuiInputTextFlags_EnterReturnsTrue)) {
    next.n_data = std::clamp(n_data, 2, 200000);
    changed = true;
  }

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
  int seed = int(next.seed), particles = next.particles, steps = next.steps;
  if (ImGui::InputInt("seed", &seed, 1, 10, ImGuiInputTextFlags_EnterReturnsTrue) || ImGui::IsItemDeactivatedAfterEdit()) {
    next.seed = uint64_t(std::max(seed, 0));
    changed = true;
  }
  if (ImGui::InputInt("particles", &particles, 500, 1000, ImGuiInputTextFlags_EnterReturnsTrue)) {
    next.particles = std::clamp(particles, 1, 100000);
    changed = true;
  }
  if (ImGui::InputInt("steps", &steps, 100, 500, ImGuiInputTextFlags_EnterReturnsTrue)) {
    next.steps = std::clamp(steps, 2, 100000);
    next.frame_stride = std::max(1, next.steps / 100);
    changed = true;
  }
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
    float lr = float(next.lr);
    if (ImGui::InputFloat("lr", &lr, 0, 0, "%.1e", ImGuiInputTextFlags_EnterReturnsTrue)) {
      next.lr = std::clamp(double(lr), 1e-6, 0.1);
      changed = true;
    }
    int batch = next.batch, width = next.width;
    if (ImGui::InputInt("batch", &batch, 64, 256, ImGuiInputTextFlags_EnterReturnsTrue)) {
      next.batch = std::clamp(batch, 1, 65536);
      changed = true;
    }
    if (ImGui::InputInt("width", &width, 16, 64, ImGuiInputTextFlags_EnterReturnsTrue)) {
      next.width = std::clamp(width, 4, 1024);
      changed = true;
    }
    if (st.rollbacks > 0) ImGui::TextColored(ImVec4(1, 0.7f, 0.3f, 1), "%lld rollbacks: %s",
                                             (long long)st.rollbacks, st.message.c_str());
  }
  if (changed) apply(next);
}

// Requests a new overlay when what it shows changed: at once (throttled to ~7 per second) for a
// person's changes (pan, zoom, time, toggles), and only when the job is idle for a new model
// snapshot, so a training model cannot keep the density from ever finishing.
void App::update_overlays(double now) {
  const bool want = view_opt_.show_score || view_opt_.show_density;
  if (!want) {
    viewport_.set_overlay(nullptr);
    return;
  }
  OverlayRequest r;
  r.model = session_->view_model();
  r.schedule = session_->view_schedule();
  r.t = playback_.t;
  r.window = viewport_.world_window();
  r.score = view_opt_.show_score;
  r.density = view_opt_.show_density;
  const bool user_changed = !(r.window == overlay_submitted_.window) || r.t != overlay_submitted_.t ||
                            r.score != overlay_submitted_.score ||
                            r.density != overlay_submitted_.density ||
                            !(r.schedule == overlay_submitted_.schedule);
  const bool model_changed = session_->view_version() != overlay_view_version_;
  if ((user_changed && now - overlay_submit_time_ > 0.15) || (model_changed && overlay_job_->idle())) {
    overlay_submitted_ = r;
    overlay_view_version_ = session_->view_version();
    overlay_submit_time_ = now;
    overlay_job_->submit(std::move(r));
  }
  viewport_.set_overlay(overlay_job_->latest());
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
  if (ImGui::Button("add") && edit_.compare.size() < 4) {
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
  help_marker("Score arrows: s(x, t) of the viewed model at the scrubber's time, length up to "
              "the 90th percentile of |s|. Log-density: log q_t(x) of the probability-flow ODE "
              "(exact divergence, integrated from t to Tmax), magma colours over the 12 nats "
              "below the peak; at t = Tmin it is the model's data density. Both are computed "
              "in the background (coarse grid first).");
  ImGui::SliderFloat("point size", &view_opt_.particle_size, 1.0f, 10.0f, "%.1f");
  ImGui::SliderFloat("trail opacity", &view_opt_.trail_alpha, 0.05f, 1.0f, "%.2f");
  if (ImGui::Button("fit view")) viewport_.fit(session_->data());
  ImGui::SameLine();
  if (ImGui::Button("W2 sweep")) {
    session_->request_w2_sweep();
    status_ = "W2(eta) sweep started";
  }
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

// ---------------------------------------------------------------- exports

void App::export_chart(const std::string& name, const std::string& path) {
  const auto id = parse_chart_name(name);
  if (!id) throw Error("unknown chart '" + name + "' (loss, nll-step, nll-eta, w2, action, c-map)");
  ensure_parent_dir(path);
  charts_.export_chart(*id, *session_, session_->experiment().eta, eta_.fine ? 0.2 : 1.0, path);
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

void App::export_viewport(const std::string& path) {
  ensure_parent_dir(path);
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".svg" || ext == ".SVG") {
    // Trajectories as polylines, particles as circles (the same camera as on screen).
    if (!session_->sample()) throw Error("no trajectories yet");
    const std::string text = viewport_.svg(playback_.t, view_opt_);
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
  auto number = [&] { return parse_number(value, "set " + key); };
  auto integer = [&](int lo, int hi) {
    const double v = number();
    if (v != std::floor(v) || v < lo || v > hi)
      throw Error("set " + key + ": expected an integer in [" + std::to_string(lo) + ", " +
                  std::to_string(hi) + "]");
    return int(v);
  };
  if (key == "eta") {
    const double e = number();
    if (e < 0 || e > 1) throw Error("set eta: must be in [0, 1]");
    next.eta = e;
  } else if (key == "schedule") {
    next.schedule = Schedule::parse(value);
  } else if (key == "data") {
    next.data = value;
  } else if (key == "model") {
    next.model = parse_model_kind(value);
  } else if (key == "checkpoint") {
    next.checkpoint = value;
    next.model = ModelKind::Checkpoint;
  } else if (key == "seed") {
    next.seed = uint64_t(integer(0, 1 << 30));
  } else if (key == "particles") {
    next.particles = integer(1, 100000);
  } else if (key == "steps") {
    next.steps = integer(2, 100000);
    next.frame_stride = std::max(1, next.steps / 100);
  } else if (key == "trail-every") {
    next.trail_every = integer(1, 100000);
  } else if (key == "trail-color") {
    if (value != "time" && value != "action") throw Error("set trail-color: time or action");
    view_opt_.trail_color = value == "time" ? TrailColor::Time : TrailColor::Action;
    return;
  } else if (key == "overlay") {
    if (value != "none" && value != "score" && value != "density" && value != "both")
      throw Error("set overlay: none, score, density or both");
    view_opt_.show_score = value == "score" || value == "both";
    view_opt_.show_density = value == "density" || value == "both";
    return;
  } else if (key == "time") {
    const Schedule& sc = session_->view_schedule();
    playback_.t = std::clamp(number(), sc.t_min, sc.t_max);
    playback_.playing = false;
    playback_.at_end = playback_.t <= sc.t_min;
    return;
  } else if (key == "lr") {
    next.lr = number();
  } else if (key == "batch") {
    next.batch = integer(1, 65536);
  } else if (key == "eps") {
    next.gauss_eps = number();
  } else if (key == "delta") {
    next.gauss_delta = number();
  } else if (key == "eval-points") {
    next.eval_points = integer(1, 20000);
  } else {
    throw Error("set: unknown setting '" + key + "'");
  }
  if (!session_->apply(next)) throw Error(session_->error());
  apply(next);
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
  } else if (a[0] == "add" && a.size() >= 3) {
    CompareSpec c;
    c.schedule = Schedule::parse(a[1]);
    c.model = parse_model_kind(a[2]);
    if (c.model == ModelKind::Gaussian) throw Error("compare add: gaussian is only a main model");
    if (a.size() > 3) c.checkpoint = a[3];
    if (next.compare.size() >= 4) throw Error("compare add: at most 4 compared models");
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
    const Experiment e = load_preset(a[0]);
    if (!session_->apply(e)) throw Error(session_->error());
    apply(e);
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
  } else if (c.name == "export-viewport") {
    export_viewport(a[0]);
  } else if (c.name == "screenshot") {
    ensure_parent_dir(a[0]);
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
    if (st.state == TrainerState::Failed) throw Error("training failed: " + st.message);
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
    return e && e->model_version >= wait_model_version_ && e->step >= wait_eval_step_;
  }
  if (c.name == "wait-overlay") {
    if (!view_opt_.show_score && !view_opt_.show_density) throw Error("wait-overlay: no overlay is on");
    auto o = overlay_job_->latest();
    return o && !o->coarse && o->t == playback_.t && (!view_opt_.show_density || o->nx > 0) &&
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
