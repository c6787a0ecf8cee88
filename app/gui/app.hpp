#pragma once
// The composition root of the desktop app: the session (data, model, workers), the viewport,
// the charts and the small UI state, laid out in one window. It also carries out script
// commands (ScriptHost), so scripted runs go through exactly the code a click does.
#include <memory>
#include <string>
#include <vector>

#include "charts.hpp"
#include "experiment.hpp"
#include "animation_job.hpp"
#include "overlay_job.hpp"
#include "playback.hpp"
#include "script.hpp"
#include "session.hpp"
#include "viewport.hpp"

namespace diffpath::gui {

/// Where the GUI thread's time went in the last frame (for --bench).
struct FrameProfile {
  double tick_ms = 0, charts_ms = 0, panels_ms = 0;
  int chart_uploads = 0;   // chart textures replaced this frame
};

/// UI state of the η control.
struct EtaControl {
  bool fine = true;       // slider on [0, kEtaFine], where the paper looks
  EtaSweep sweep;
  /// The slider's and the η charts' upper end.
  double max() const { return fine ? kEtaFine : 1.0; }
};

class App final : public ScriptHost {
 public:
  App(const Experiment& initial, bool autostart_training);
  ~App() override;

  /// Compiles shaders etc.; needs the GL context. Problems are shown in the window.
  void init_graphics();
  /// One frame of UI: advances animations, polls the session, draws every panel.
  void frame(int window_w, int window_h, double dt);

  // ScriptHost
  void run_command(const ScriptCommand& c) override;
  bool poll_wait(const ScriptCommand& c, bool first) override;

  /// Set by the `screenshot` command; main captures the window after rendering this frame.
  std::string take_screenshot_request();
  bool quit_requested() const { return quit_; }
  void set_status(std::string s) { status_ = std::move(s); }
  Session& session() { return *session_; }
  const FrameProfile& profile() const { return profile_; }

  // Exports (also behind the export panel). Throw diffpath::Error.
  void export_chart(const std::string& name, const std::string& path);
  void export_csv(const std::string& kind, const std::string& path);
  void export_viewport(const std::string& path);
  /// Starts rendering an animation in the background ("time": the viewed model over the
  /// scrubber at the slider's η; "eta": its morph over [0, 1]; "training": a fresh network of
  /// the experiment's architecture training on the data); the path is checked now.
  void export_animation(const std::string& kind, const std::string& path, int frames,
                        int width = 640, int height = 360);

 private:
  /// The one way a change reaches the session; false (session error() says why) on bad input.
  bool apply(const Experiment& next);
  void set_field(const std::string& key, const std::string& value);
  void draw_controls(float w, float h);
  void draw_viewport(float x, float w, float h);
  void draw_charts(float x, float w, float h);
  void draw_status(float y, float w, float h);
  void experiment_panel();
  void model_panel();
  void eta_panel(double dt);
  void view_panel();
  void animation_section(const std::string& dir);
  void export_panel();
  void compare_panel();
  void update_overlays(double now);
  void compare_command(const std::vector<std::string>& args);
  /// "data · schedule · model" of the viewed model: the legend of exports and animations.
  std::string view_caption() const;

  std::unique_ptr<Session> session_;
  Experiment edit_;            // the experiment as edited in the panels
  Viewport viewport_;
  ViewportOptions view_opt_;
  bool chart_delta_log_q_ = false;  // the c-map cell shows Δ log q at η instead of c(x₀)
  Charts charts_;
  Playback playback_;
  EtaControl eta_;
  std::string status_;
  std::string screenshot_request_;
  bool quit_ = false;
  bool graphics_ready_ = false;
  FrameProfile profile_;
  std::string fit_for_data_;   // data spec the camera was last fitted to

  // Script wait bookkeeping.
  int64_t wait_steps_target_ = 0;
  int frames_left_ = 0;
  uint64_t wait_model_version_ = 0;
  std::vector<uint64_t> wait_nll_eta_versions_;  // wait-nll-eta: per slot, the version to reach
  int64_t wait_eval_step_ = 0;   // wait-eval: the evaluated snapshot must include these steps
  uint64_t w2_target_ = 0;

  // Viewport overlays (score field, log-density), computed in the background.
  std::unique_ptr<OverlayJob> overlay_job_;
  OverlayRequest overlay_submitted_;
  uint64_t overlay_view_version_ = 0;
  double overlay_submit_time_ = -1.0;

  // Animation export (Export panel, export-animation): the background job and its settings.
  std::unique_ptr<AnimationJob> animation_job_;
  uint64_t animation_seen_ = 0;
  int anim_kind_ = 1, anim_format_ = 0, anim_size_ = 0, anim_frames_ = 60;

  // Compare panel: the schedule and kind of the next model to add.
  int add_schedule_ = 1, add_model_ = 0;

  // Text fields of the panels.
  char csv_path_[512] = "";
  char preset_path_[512] = "diffpath-preset.json";
  char checkpoint_path_[512] = "diffpath-model.safetensors";
  char export_dir_[512] = "diffpath-export";
};

}  // namespace diffpath::gui
