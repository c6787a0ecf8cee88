#pragma once
// `diffpath --bench`: measures what issue 5 asks for in the real window — GUI-thread frame
// time with training running and 4000 particles with trails (also the frames in which a chart
// texture is replaced), and the latency from an η change to the first (coarse) and the full
// new picture — prints the figures with a breakdown of the GUI thread's time and quits.
#include <string>
#include <vector>

namespace diffpath::gui {

class App;

/// Wall times of one frame on the GUI thread (main.cpp).
struct FrameTiming {
  double total_ms = 0;   // frame start → after buffer swap (+ glFinish in bench mode)
  double ui_ms = 0;      // App::frame + ImGui render + GL command submission
  double swap_ms = 0;    // swap + glFinish: the GL driver's deferred rasterisation
  double cpu_ms = 0;     // CPU time of the GUI thread itself over the frame
};

class BenchMode {
 public:
  /// Called once per frame after rendering. Returns false when the benchmark is finished.
  bool step(App& app, const FrameTiming& timing, double now);
  int exit_code() const { return exit_code_; }

 private:
  enum class Phase { Setup, Settle, Frames, EtaChange, SetupDefault, SettleDefault, EtaDefault, Done };
  bool eta_round(App& app, double now, std::vector<double>& first, std::vector<double>& full);
  void record(App& app, const FrameTiming& timing);
  void finish();
  Phase phase_ = Phase::Setup;
  double phase_start_ = 0.0;
  // Per frame: total, and the parts.
  std::vector<double> frame_ms_, cpu_ms_, chart_frame_ms_, chart_cpu_ms_, tick_ms_, charts_ms_,
      panels_ms_, ui_ms_, swap_ms_;
  double load_start_ = 0;
  int eta_index_ = 0;
  double eta_set_at_ = 0.0;
  bool got_coarse_ = false;
  uint64_t wait_version_ = 0;
  std::vector<double> first_ms_, full_ms_;            // 4000 particles
  std::vector<double> first_def_ms_, full_def_ms_;    // default settings (2000 particles)
  int exit_code_ = 0;
};

}  // namespace diffpath::gui
