#pragma once
// The time scrubber and the η sweep animation: small state machines advanced once per frame.
#include <algorithm>

namespace diffpath::gui {

/// Current time t of the viewport. Playing runs t from Tmax down to Tmin in `duration` s.
struct Playback {
  double t = 0.0;            // clamped to [t_min, t_max] by advance()
  bool playing = false;
  bool at_end = true;        // follow Tmin (the generated samples) when not scrubbing
  double duration = 4.0;

  void play(double t_max) {
    t = t_max;
    playing = true;
    at_end = false;
  }
  void advance(double dt, double t_min, double t_max) {
    if (playing) {
      t -= (t_max - t_min) * dt / duration;
      if (t <= t_min) {
        t = t_min;
        playing = false;
        at_end = true;
      }
    }
    if (at_end) t = t_min;
    t = std::clamp(t, t_min, t_max);
  }
};

/// η sweep: a triangle wave between lo and hi with period `period` s.
struct EtaSweep {
  bool running = false;
  double phase = 0.0;   // in [0, 1)
  double period = 8.0;

  double advance(double dt, double lo, double hi) {
    phase += dt / period;
    phase -= static_cast<int>(phase);
    const double tri = phase < 0.5 ? 2.0 * phase : 2.0 - 2.0 * phase;
    return lo + (hi - lo) * tri;
  }
};

}  // namespace diffpath::gui
