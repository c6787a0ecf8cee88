#include "bench_mode.hpp"

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "app.hpp"

namespace diffpath::gui {
namespace {

constexpr double kEtas[] = {0.3, 0.05, 0.7, 0.15, 1.0, 0.0};
constexpr int kEtaCount = 6;

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[size_t(q * double(v.size() - 1))];
}

void print_series(const char* name, const std::vector<double>& v) {
  const double mean = v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
  std::printf("%-34s n=%4zu  mean %8.2f ms  median %8.2f ms  p95 %8.2f ms  max %8.2f ms\n", name,
              v.size(), mean, percentile(v, 0.5), percentile(v, 0.95), percentile(v, 1.0));
}

}  // namespace

bool BenchMode::step(App& app, double gui_ms, double now) {
  Session& s = app.session();
  switch (phase_) {
    case Phase::Setup:
      app.run_command({0, "set", {"particles", "4000"}});
      app.run_command({0, "set", {"eta", "1"}});
      s.start_training();
      phase_ = Phase::Settle;
      phase_start_ = now;
      break;
    case Phase::Settle:
      if (s.sample_current(0) || now - phase_start_ > 60) {
        phase_ = Phase::Frames;
        phase_start_ = now;
      }
      break;
    case Phase::Frames:
      frame_ms_.push_back(gui_ms);
      if (now - phase_start_ > 5.0) {
        phase_ = Phase::EtaChange;
        eta_index_ = -1;
      }
      break;
    case Phase::EtaChange: {
      auto v = s.sample();
      const bool fresh = eta_index_ >= 0 && v && v->eta == kEtas[eta_index_];
      if (eta_index_ >= 0 && fresh && !got_coarse_) {
        first_ms_.push_back(1000.0 * (now - eta_set_at_));
        got_coarse_ = true;
      }
      if (eta_index_ < 0 || (fresh && !v->coarse) || now - eta_set_at_ > 30) {
        if (eta_index_ >= 0) full_ms_.push_back(1000.0 * (now - eta_set_at_));
        if (++eta_index_ >= kEtaCount) {
          finish();
          return false;
        }
        // Pause training while timing η changes? No: the issue asks for it with training on.
        app.run_command({0, "set", {"eta", std::to_string(kEtas[eta_index_])}});
        eta_set_at_ = now;
        got_coarse_ = false;
      }
      break;
    }
    case Phase::Done:
      return false;
  }
  return true;
}

void BenchMode::finish() {
  phase_ = Phase::Done;
  std::printf("diffpath --bench (4000 particles, trails, MLP training in the background)\n");
  std::printf("frame times are wall time of the GUI thread's UI + draw work per frame;\n");
  std::printf("eta latencies are measured at frame granularity (+0..16 ms)\n");
  print_series("GUI frame time", frame_ms_);
  print_series("eta change -> first new picture", first_ms_);
  print_series("eta change -> full picture", full_ms_);
  const double p95 = percentile(frame_ms_, 0.95);
  std::printf("verdict: frame p95 %.1f ms (target <= 16), first picture median %.0f ms (target <= 100), "
              "full median %.0f ms (target <= 1000)\n",
              p95, percentile(first_ms_, 0.5), percentile(full_ms_, 0.5));
  std::fflush(stdout);
}

}  // namespace diffpath::gui
