#include "app.hpp"

// The app's frame: the session tick, the window layout (controls | viewport | charts, status
// line), the viewport window and its overlays. The panels are in app_panels.cpp, exports and
// script commands in app_script.cpp.
#include <chrono>
#include <cmath>

#include <imgui.h>

#include "ui_util.hpp"

namespace diffpath::gui {
namespace {

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

constexpr float kControlsWidth = 340.0f;
constexpr float kChartsWidth = 600.0f;
constexpr float kStatusHeight = 26.0f;

}  // namespace

App::App(const Experiment& initial, bool autostart_training)
    : session_(std::make_unique<Session>(initial, autostart_training)),
      overlay_job_(make_overlay_job()),
      animation_job_(make_animation_job()) {
  edit_ = session_->experiment();
  playback_.t = edit_.schedule.t_min;
  status_ = "ready";
}

App::~App() {
  animation_job_.reset();  // cancels a running render: its partial file is removed
  overlay_job_.reset();
  session_.reset();
}

void App::init_graphics() {
  graphics_ready_ = viewport_.init();
  if (!graphics_ready_) session_->set_error(viewport_.error());
  viewport_.set_data(session_->data());
  viewport_.fit(session_->data());
  fit_for_data_ = edit_.data_spec();
}

bool App::apply(const Experiment& next) {
  const bool ok = session_->apply(next);
  if (ok && (next.data_spec() != fit_for_data_ || next.data == "drawn")) {
    viewport_.set_data(session_->data());
    if (next.data != "drawn") viewport_.fit(session_->data());
    fit_for_data_ = next.data_spec();
  }
  edit_ = session_->experiment();
  return ok;
}

// ---------------------------------------------------------------- frame

void App::frame(int window_w, int window_h, double dt) {
  const double t0 = now_seconds();
  session_->tick(t0);
  const double t1 = now_seconds();
  if (eta_.sweep.running) {
    edit_.eta = eta_.sweep.advance(dt, 0.0, eta_.max());
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
  charts_.update(*session_, session_->experiment().eta, eta_.max(), int(charts_w * 0.5f - 12), int((h - 40) / 3 - 8),
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
      std::snprintf(dens, sizeof dens, "  |  %s at t = %.3f%s%s", o->delta ? "log q^eta - log q^0" : "log q_t^eta",
                    o->density_t, o->coarse ? " (coarse)" : "", o->resolved ? "" : " (under-resolved)");
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
  // Six cells: the last shows c(x₀) or, by the View toggle, Δ log q at the current η.
  for (int i = 0; i < int(ChartId::CMap); ++i) {
    if (i % 2) ImGui::SameLine();
    charts_.draw(ChartId(i), cw, ch);
  }
  ImGui::SameLine();
  charts_.draw(chart_delta_log_q_ ? ChartId::DeltaLogQ : ChartId::CMap, cw, ch);
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
  r.eta = session_->experiment().eta;
  r.density_delta = view_opt_.density_delta;
  const bool user_changed = !(r.window == overlay_submitted_.window) || r.t != overlay_submitted_.t ||
                            r.score != overlay_submitted_.score ||
                            r.density != overlay_submitted_.density || r.eta != overlay_submitted_.eta ||
                            r.density_delta != overlay_submitted_.density_delta ||
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

}  // namespace diffpath::gui
