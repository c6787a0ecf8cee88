// The η morph as a video (core animation.hpp): 1280×720, 120 frames (η = 0 … 1), 2000
// particles with trails, the shipped simple swiss-roll network, 200 steps, MP4. Issue 12's
// target is ≤ 20 s on 2 cores, sampling included. Counters: seconds in sampling, rendering
// and encoding, and frames/s of rendering and of encoding separately.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>

#include "diffpath/animation.hpp"
#include "diffpath/dataset.hpp"
#include "shipped_model.hpp"

using namespace diffpath;

namespace {

void BM_EtaMorph(benchmark::State& state) {
  AnimationOptions o;
  o.kind = AnimationKind::Eta;
  for (int k = 0; k < 120; ++k) o.etas.push_back(k / 119.0);
  o.etas.erase(o.etas.begin());  // the default {0.1}
  o.n = 2000;
  o.steps = 200;
  o.threads = 2;
  o.video.width = 1280;
  o.video.height = 720;
  const Points data = make_dataset("swissroll", 2000, 12345).points;
  const std::string path = (std::filesystem::temp_directory_path() / "diffpath-bench-morph.mp4").string();
  AnimationReport r;
  for (auto _ : state)
    r = write_animation(shipped_simple_network(), Schedule::simple(), data, "swissroll · simple", o, path);
  state.counters["frames"] = r.frames;
  state.counters["sample_s"] = r.sample_seconds;
  state.counters["render_s"] = r.render_seconds;
  state.counters["encode_s"] = r.encode_seconds;
  state.counters["render_fps"] = r.frames / r.render_seconds;
  state.counters["encode_fps"] = r.frames / r.encode_seconds;
  std::filesystem::remove(path);
}

}  // namespace

BENCHMARK(BM_EtaMorph)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK_MAIN();
