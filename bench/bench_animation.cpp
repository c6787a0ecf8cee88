// The η morph as a video (core animation.hpp): 1280×720, 120 frames (η = 0 … 1), 2000
// particles with trails (every 16th path), the shipped simple swiss-roll network, MP4. Issue
// 12's target is ≤ 20 s on 2 cores, sampling included. The argument is the number of sampler
// steps: 200 (the CLI's default) and 50. Counters: the wall time, seconds in sampling (on its
// own thread, overlapping the rest), rendering and encoding, and frames/s of rendering and of
// encoding separately.
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
  o.etas.clear();
  for (int k = 0; k < 120; ++k) o.etas.push_back(k / 119.0);
  o.n = 2000;
  o.steps = int(state.range(0));
  o.threads = 2;
  o.video.width = 1280;
  o.video.height = 720;
  const Points data = make_dataset("swissroll", 2000, 12345).points;
  const std::string path = (std::filesystem::temp_directory_path() / "diffpath-bench-morph.mp4").string();
  AnimationReport r;
  for (auto _ : state)
    r = write_animation(shipped_simple_network(), Schedule::simple(), data, "swissroll · simple", o, path);
  state.counters["frames"] = r.frames;
  state.counters["particles"] = o.n;
  state.counters["steps"] = o.steps;
  state.counters["total_s"] = r.total_seconds;
  state.counters["sample_s"] = r.sample_seconds;
  state.counters["render_s"] = r.render_seconds;
  state.counters["encode_s"] = r.encode_seconds;
  state.counters["render_fps"] = r.frames / r.render_seconds;
  state.counters["encode_fps"] = r.frames / r.encode_seconds;
  std::filesystem::remove(path);
}

// One frame of the morph alone (η = 0.5: trails of every 16th particle, 51 points each), no
// sampling competing for the cores: the renderer's own frames/s.
void BM_SceneFrame(benchmark::State& state) {
  SamplerOptions so;
  so.eta = 0.5;
  so.n = 2000;
  so.steps = 200;
  so.stride = 200 / kMorphTrailFrames;
  so.record_action = false;
  const SampleResult r = sample(shipped_simple_network(), Schedule::simple(), so);
  const Points data = make_dataset("swissroll", 2000, 12345).points;
  Scene scene;
  scene.data = &data;
  scene.paths = &r;
  scene.particles = &r.samples;
  scene.t = scene.t_min = Schedule::simple().t_min;
  scene.t_max = Schedule::simple().t_max;
  scene.camera = fit_camera(-2.2, 2.2, -2.2, 2.2, 1280, 720);
  scene.legend = scene_legend("swissroll · simple", 0.5, scene.t);
  SceneRenderer renderer;
  for (auto _ : state) benchmark::DoNotOptimize(renderer.render(scene).data());
  state.counters["frames_per_s"] = benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_SceneFrame)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_EtaMorph)->ArgName("steps")->Arg(200)->Arg(50)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK_MAIN();
