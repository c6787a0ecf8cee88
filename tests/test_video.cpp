// Video export (core video.hpp, animation.hpp; issue 12): files decoded back with libavformat —
// container, codec, frame count, size and frame rate as requested; an animation's first frame
// equals the still of its scene (core scene.hpp, the window's look) within encoder tolerance;
// a GIF uses more than 64 colours; bad input is a one-line error before any work, and an
// unfinished writer or a cancelled animation leaves no file.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "diffpath/animation.hpp"
#include "diffpath/dataset.hpp"
#include "diffpath/mlp.hpp"
#include "diffpath/trainer.hpp"
#include "diffpath/scene.hpp"
#include "diffpath/score_model.hpp"
#include "diffpath/video.hpp"
#include "run_command.hpp"

using namespace diffpath;
namespace fs = std::filesystem;

namespace {

std::string tmp(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("diffpath-video-" + std::to_string(getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

// A moving gradient: frame k differs from frame k + 1 everywhere.
std::vector<uint8_t> gradient(int w, int h, int k) {
  std::vector<uint8_t> rgba(size_t(w) * h * 4);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = &rgba[(size_t(y) * w + x) * 4];
      p[0] = uint8_t((x * 255 / w + 7 * k) & 255);
      p[1] = uint8_t(y * 255 / h);
      p[2] = uint8_t((40 + 9 * k) & 255);
      p[3] = 255;
    }
  return rgba;
}

// Mean absolute difference per channel (RGB) of two RGBA images.
double mean_abs_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  REQUIRE(a.size() == b.size());
  double s = 0;
  size_t n = 0;
  for (size_t i = 0; i < a.size(); i += 4)
    for (int c = 0; c < 3; ++c, ++n) s += std::abs(int(a[i + c]) - int(b[i + c]));
  return s / double(n);
}

// How far apart two pictures (w × h RGBA) are as a viewer compares them: the luma averaged
// over 4 × 4 blocks, differences taken about their median, mean absolute value. The yuv420p
// encoders halve the chroma resolution (smearing one-pixel dots, which a pixelwise RGB
// difference of a dark scene full of dots counts as loss) and their limited-range round trip
// shifts every pixel by a level or so; neither moves a particle.
double picture_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, int w, int h) {
  REQUIRE(a.size() == b.size());
  REQUIRE(a.size() == size_t(w) * size_t(h) * 4);
  auto luma = [](const uint8_t* p) { return 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]; };
  std::vector<double> d;
  for (int by = 0; by + 4 <= h; by += 4)
    for (int bx = 0; bx + 4 <= w; bx += 4) {
      double s = 0;
      for (int y = by; y < by + 4; ++y)
        for (int x = bx; x < bx + 4; ++x) {
          const size_t i = (size_t(y) * size_t(w) + size_t(x)) * 4;
          s += luma(&a[i]) - luma(&b[i]);
        }
      d.push_back(s / 16);
    }
  std::vector<double> sorted = d;
  std::nth_element(sorted.begin(), sorted.begin() + long(sorted.size() / 2), sorted.end());
  const double median = sorted[sorted.size() / 2];
  double sum = 0;
  for (double x : d) sum += std::abs(x - median);
  return sum / double(d.size());
}

}  // namespace

TEST_CASE("MP4, WebM and GIF: the decoded file has the requested codec, size, rate and frames") {
  struct Case {
    const char* ext;
    const char* container;
    const char* codec;
  };
  for (const Case& c : {Case{".mp4", "mov,mp4,m4a,3gp,3g2,mj2", "h264"}, Case{".webm", "matroska,webm", "vp9"},
                        Case{".gif", "gif", "gif"}}) {
    CAPTURE(c.ext);
    const std::string path = tmp(std::string("clip") + c.ext);
    VideoOptions o;
    o.width = 320;
    o.height = 240;
    const bool gif = std::string(c.ext) == ".gif";
    o.fps = gif ? 25 : 24;  // GIF: delays in 1/100 s, 24 fps is not representable
    {
      VideoWriter w(path, o);
      for (int k = 0; k < 30; ++k) w.write_rgba(gradient(o.width, o.height, k));
      CHECK(w.frames() == 30);
      w.finish();
    }
    CHECK_FALSE(fs::exists(path + ".part"));
    const VideoInfo v = probe_video(path);
    CHECK(v.container == c.container);
    CHECK(v.codec.find(c.codec) != std::string::npos);
    CHECK(v.width == 320);
    CHECK(v.height == 240);
    CHECK(v.fps == doctest::Approx(o.fps));
    CHECK(v.frames == 30);
    // The first decoded frame is the first frame given, within the encoder's loss (a few
    // levels of 255 for CRF 23 on a smooth gradient; the GIF's 256 colours for the whole
    // clip, dithered, ~13).
    const double d = mean_abs_diff(v.first_rgba, gradient(320, 240, 0));
    MESSAGE(c.ext << ": first frame mean |Δ| = " << d);
    CHECK(d < (gif ? 16.0 : 4.0));
    CHECK(mean_abs_diff(v.first_rgba, v.last_rgba) > 20.0);  // it moved
    if (gif) CHECK(v.colors_used > 64);
  }
}

TEST_CASE("GIF: the palette of the first frame and the hint covers colours that come later") {
  // Streamed, the palette is fixed by the first frame: a clip that turns from reds to greens
  // keeps its greens only if the hint (here its last frame) brought them.
  const int w = 160, h = 120;
  auto ramp = [&](int channel) {
    std::vector<uint8_t> rgba(size_t(w) * h * 4, 0);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        uint8_t* p = &rgba[(size_t(y) * w + x) * 4];
        p[channel] = uint8_t(40 + x * 215 / w);
        p[2] = uint8_t(y * 255 / h / 4);
        p[3] = 255;
      }
    return rgba;
  };
  const std::vector<uint8_t> reds = ramp(0), greens = ramp(1);
  VideoOptions o;
  o.width = w;
  o.height = h;
  o.fps = 10;
  double d[2];
  for (bool hint : {false, true}) {
    const std::string path = tmp(hint ? "hinted.gif" : "unhinted.gif");
    VideoWriter writer(path, o);
    if (hint) writer.set_palette_hint(greens);
    writer.write_rgba(reds);
    writer.write_rgba(greens);
    writer.finish();
    const VideoInfo v = probe_video(path);
    CHECK(v.frames == 2);
    d[hint] = mean_abs_diff(v.last_rgba, greens);
    CHECK(mean_abs_diff(v.first_rgba, reds) < 12.0);
  }
  MESSAGE("GIF, the later greens: mean |Δ| " << d[0] << " without the hint, " << d[1] << " with it");
  CHECK(d[1] < 12.0);
  CHECK(d[0] > 3 * d[1]);
  VideoWriter late(tmp("late.gif"), o);
  late.write_rgba(reds);
  CHECK_THROWS_AS(late.set_palette_hint(greens), Error);  // after the first frame: too late
}

TEST_CASE("bad input is a one-line error before any work; an unfinished writer leaves nothing") {
  VideoOptions o;
  o.width = 320;
  o.height = 240;
  auto fails_with = [&](const std::string& path, const VideoOptions& opt, const std::string& what) {
    CAPTURE(path);
    try {
      VideoWriter w(path, opt);
      FAIL("no error");
    } catch (const Error& e) {
      const std::string m = e.what();
      MESSAGE(m);
      CHECK(m.find(what) != std::string::npos);
      CHECK(m.find('\n') == std::string::npos);
    }
  };
  fails_with(tmp("clip.avi"), o, "unknown extension");
  fails_with("/proc/diffpath-no/clip.mp4", o, "clip.mp4");
  VideoOptions odd = o;
  odd.width = 321;
  fails_with(tmp("odd.mp4"), odd, "even width and height");
  VideoOptions zero = o;
  zero.fps = 0;
  fails_with(tmp("zero.gif"), zero, "fps");
  VideoOptions tiny = o;
  tiny.height = 0;
  fails_with(tmp("tiny.webm"), tiny, "size");
  // An odd size is fine for a GIF (no chroma subsampling).
  CHECK_NOTHROW(VideoWriter(tmp("odd.gif"), odd));

  const std::string path = tmp("abandoned.mp4");
  {
    VideoWriter w(path, o);
    w.write_rgba(gradient(320, 240, 0));
    CHECK(fs::exists(path + ".part"));
    CHECK_THROWS_AS(w.write_rgba(std::vector<uint8_t>(10)), Error);  // wrong frame size
  }  // destroyed without finish(): cancelled
  CHECK_FALSE(fs::exists(path));
  CHECK_FALSE(fs::exists(path + ".part"));
}

namespace {

// The still of one sampled scene as the animation draws it: the window's look, the clip's
// camera, the legend.
std::vector<uint8_t> still_of(const SampleResult& s, const Points& data, const Schedule& sch, const AnimationOptions& o,
                              const Points& particles, double eta, double t) {
  Scene scene;
  scene.data = &data;
  scene.paths = &s;
  scene.particles = &particles;
  scene.t = t;
  scene.t_min = sch.t_min;
  scene.t_max = sch.t_max;
  scene.legend = scene_legend("25gaussians", eta, t);
  scene.camera = fit_camera(o.limits[0], o.limits[1], o.limits[2], o.limits[3], o.video.width, o.video.height,
                            legend_height(o.video.height, 2));
  return render_scene_rgba(scene);
}

AnimationOptions small_clip(AnimationKind kind) {
  AnimationOptions o;
  o.kind = kind;
  o.n = 300;
  o.steps = 60;
  o.video.width = 320;
  o.video.height = 240;
  o.video.fps = 10;
  o.video.quality = 10;
  o.limits = {-2.0, 2.0, -1.6, 1.6};
  return o;
}

}  // namespace

TEST_CASE("the eta morph: frames as requested, the first equals the still of its scene") {
  const Schedule sch = Schedule::simple();
  const ScoreModelPtr model = make_score_model("exact:25gaussians", sch);
  const Points data = make_dataset("25gaussians", 500, 3).points;
  AnimationOptions o = small_clip(AnimationKind::Eta);
  o.etas = {0.0, 0.25, 0.5, 0.75, 1.0};
  const std::string path = tmp("morph.mp4");
  const AnimationReport r = write_animation(*model, sch, data, "25gaussians", o, path);
  CHECK(r.frames == 5);
  CHECK_FALSE(r.cancelled);
  const VideoInfo v = probe_video(path);
  CHECK(v.frames == 5);
  CHECK(v.codec == "h264");
  CHECK(v.fps == doctest::Approx(10.0));
  // The still at η = 0: the same scene (same seed: the same particles and paths), sampled
  // again on its own and drawn with the clip's fixed limits.
  SamplerOptions so;
  so.eta = 0.0;
  so.n = o.n;
  so.steps = o.steps;
  so.seed = o.seed;
  so.stride = std::max(1, o.steps / kMorphTrailFrames);
  const SampleResult s = sample(*model, sch, so);
  const std::vector<uint8_t> still = still_of(s, data, sch, o, s.samples, 0.0, sch.t_min);
  const double d_first = picture_diff(v.first_rgba, still, 320, 240),
               d_last = picture_diff(v.last_rgba, still, 320, 240);
  MESSAGE("first frame vs still: mean |Δ| " << mean_abs_diff(v.first_rgba, still) << ", as pictures " << d_first
                                            << "; last frame vs still, as pictures " << d_last);
  CHECK(d_first < 0.3);           // the encoder's loss (CRF 10) on the first (intra) frame
  CHECK(d_last > 10 * d_first);   // η = 1 is another picture
}

TEST_CASE("the time flow: frames over the scrubber, first at Tmax and last at Tmin as stills") {
  const Schedule sch = Schedule::simple();
  const ScoreModelPtr model = make_score_model("exact:25gaussians", sch);
  const Points data = make_dataset("25gaussians", 500, 3).points;
  AnimationOptions o = small_clip(AnimationKind::Time);
  o.etas = {0.5};
  o.frames = 7;
  const std::string path = tmp("time.webm");
  const AnimationReport r = write_animation(*model, sch, data, "25gaussians", o, path);
  CHECK(r.frames == 7);
  const VideoInfo v = probe_video(path);
  CHECK(v.frames == 7);
  CHECK(v.codec == "vp9");
  SamplerOptions so;
  so.eta = 0.5;
  so.n = o.n;
  so.steps = o.steps;
  so.seed = o.seed;
  so.stride = 1;
  const SampleResult s = sample(*model, sch, so);
  // Frame 0: the prior at Tmax, no trail yet; the last: the samples with their whole trails.
  const std::vector<uint8_t> at_tmax = still_of(s, data, sch, o, s.frames.front(), 0.5, sch.t_max),
                             at_tmin = still_of(s, data, sch, o, s.samples, 0.5, sch.t_min);
  const double d_first = picture_diff(v.first_rgba, at_tmax, 320, 240),
               d_last = picture_diff(v.last_rgba, at_tmin, 320, 240),
               d_apart = picture_diff(at_tmax, at_tmin, 320, 240);
  MESSAGE("time flow, as pictures: first vs still at Tmax " << d_first << ", last vs still at Tmin " << d_last
                                                           << "; the two stills " << d_apart);
  CHECK(d_first < 0.3);
  CHECK(d_last < 1.0);  // an inter frame after much motion loses more
  CHECK(d_apart > 8 * std::max(d_first, d_last));
}

TEST_CASE("the training animation: a frame per snapshot, the last is the trained network's still") {
  TrainConfig config;
  config.data_spec = "25gaussians";
  config.n_data = 400;
  config.hidden = {32, 32};
  config.batch = 128;
  config.lr = 3e-3;
  config.threads = 1;  // the same batches and sums as the still's trainer below
  AnimationOptions o = small_clip(AnimationKind::Training);
  o.etas = {0.2};
  o.frames = 4;
  o.train_steps = 90;
  const std::string path = tmp("training.mp4");
  const AnimationReport r = write_training_animation(config, "25gaussians", o, path);
  CHECK(r.frames == 4);
  CHECK(r.train_seconds > 0);
  const VideoInfo v = probe_video(path);
  CHECK(v.frames == 4);
  // The still: the same network trained on its own for 90 steps (the last frame's loss is the
  // mean over steps 61–90), its samples under the same seed.
  DsmTrainer trainer(config);
  double sum = 0;
  for (int k = 1; k <= 90; ++k) {
    const double loss = trainer.step();
    if (k > 60) sum += loss;
  }
  const Mlp net(trainer.params());
  SamplerOptions so;
  so.eta = 0.2;
  so.n = o.n;
  so.steps = o.steps;
  so.seed = o.seed;
  so.stride = std::max(1, o.steps / kMorphTrailFrames);
  const SampleResult s = sample(net, config.schedule, so);
  Scene scene;
  scene.data = &trainer.data();
  scene.paths = &s;
  scene.particles = &s.samples;
  scene.t = scene.t_min = config.schedule.t_min;
  scene.t_max = config.schedule.t_max;
  scene.legend = scene_legend("25gaussians", 0.2, scene.t);
  char line[96];
  std::snprintf(line, sizeof line, "training step 90 of 90, loss %.3g", sum / 30);
  scene.legend.push_back(line);
  scene.camera = fit_camera(o.limits[0], o.limits[1], o.limits[2], o.limits[3], 320, 240, legend_height(240, 3));
  const std::vector<uint8_t> still = render_scene_rgba(scene);
  const double d_last = picture_diff(v.last_rgba, still, 320, 240), d_first = picture_diff(v.first_rgba, still, 320, 240);
  MESSAGE("training, as pictures: last frame vs still " << d_last << ", first (untrained) vs still " << d_first);
  CHECK(d_last < 1.0);
  CHECK(d_first > 4 * d_last);  // the untrained network's samples are another picture
}

TEST_CASE("a cancelled animation leaves no file, partial or whole") {
  const Schedule sch = Schedule::simple();
  const ScoreModelPtr model = make_score_model("exact:25gaussians", sch);
  const Points data = make_dataset("25gaussians", 200, 3).points;
  for (AnimationKind kind : {AnimationKind::Eta, AnimationKind::Time}) {
    AnimationOptions o = small_clip(kind);
    o.etas = kind == AnimationKind::Eta ? std::vector<double>{0.0, 0.2, 0.4, 0.6, 0.8, 1.0} : std::vector<double>{0.3};
    o.frames = 10;
    const std::string path = tmp(kind == AnimationKind::Eta ? "cancel-morph.gif" : "cancel-time.mp4");
    std::atomic<bool> cancel{false};
    double seen = 0;
    // Cancelled from the progress callback once some frames are out: the file is open then.
    const AnimationReport r = write_animation(*model, sch, data, "25gaussians", o, path, &cancel, [&](double f) {
      seen = f;
      if (f > 0.55) cancel = true;
    });
    CHECK(r.cancelled);
    CHECK(seen < 1.0);
    CHECK(r.frames >= 1);
    CHECK_FALSE(fs::exists(path));
    CHECK_FALSE(fs::exists(path + ".part"));
  }
}

TEST_CASE("diffpath-cli animate: Ctrl-C or TERM stops it, no file is left and the command fails") {
  for (const std::string signal : {"INT", "TERM"}) {
    CAPTURE(signal);
    const std::string out = tmp("interrupted-" + signal + ".mp4"), err = tmp("animate.err");
    fs::remove(err);
    // A long morph; signalled once its output is open (PATH.part exists: under way).
    const std::string script = std::string(DIFFPATH_CLI) +
                               " animate --score exact:25gaussians --data 25gaussians --kind eta --eta 0:1:5000"
                               " --n 300 --steps 60 --size 320x240 --out " + out + " 2>" + err +
                               " & p=$!; for i in $(seq 600); do test -e " + out + ".part && break; sleep 0.1; done;"
                               " sleep 0.5; kill -s " + signal + " $p; wait $p; echo $?";
    const CommandResult r = run_capture(script, 120);
    std::ifstream in(err);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CAPTURE(text);
    CHECK(r.out == "1\n");  // failed (interrupted), not killed by the signal (130 / 143)
    CHECK(text.find("interrupted by") != std::string::npos);
    CHECK_FALSE(fs::exists(out));
    CHECK_FALSE(fs::exists(out + ".part"));
  }
}
