#pragma once
// `diffpath --bench`: measures what issue 5 asks for in the real window — GUI-thread frame
// time with training running and 4000 particles with trails, and the latency from an η change
// to the first (coarse) and the full new picture — prints the figures and quits.
#include <string>
#include <vector>

namespace diffpath::gui {

class App;

class BenchMode {
 public:
  /// Called once per frame after rendering with the GUI-thread time of that frame.
  /// Returns false when the benchmark is finished.
  bool step(App& app, double gui_ms, double now);
  int exit_code() const { return exit_code_; }

 private:
  enum class Phase { Setup, Settle, Frames, EtaChange, Done };
  void finish();
  Phase phase_ = Phase::Setup;
  double phase_start_ = 0.0;
  std::vector<double> frame_ms_;
  int eta_index_ = 0;
  double eta_set_at_ = 0.0;
  bool got_coarse_ = false;
  std::vector<double> first_ms_, full_ms_;
  int exit_code_ = 0;
};

}  // namespace diffpath::gui
