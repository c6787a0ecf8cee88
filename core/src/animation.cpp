// Animations of the η-sampler (animation.hpp): sampling with recorded frames, one viewport
// scene per video frame (scene.hpp), encoded by VideoWriter.
#include "diffpath/animation.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

#include "diffpath/mlp.hpp"

namespace diffpath {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Runs produce(i) for i = 0, 1, … count − 1 on a thread of its own, at most one result ahead
// of the consumer: the consumer works on result i while i + 1 is produced, and no more than
// two are alive. The destructor waits for the producer (after its current item).
template <class T>
class Prefetch {
 public:
  Prefetch(int count, std::function<T(int)> produce)
      : thread_([this, count, produce = std::move(produce)] {
          try {
            for (int i = 0; i < count; ++i) {
              T v = produce(i);
              std::unique_lock lock(m_);
              cv_.wait(lock, [&] { return !slot_ || stop_; });
              if (stop_) return;
              slot_ = std::move(v);
              cv_.notify_all();
            }
          } catch (...) {
            std::lock_guard lock(m_);
            error_ = std::current_exception();
            cv_.notify_all();
          }
        }) {}
  ~Prefetch() {
    {
      std::lock_guard lock(m_);
      stop_ = true;
      cv_.notify_all();
    }
    thread_.join();
  }
  Prefetch(const Prefetch&) = delete;
  Prefetch& operator=(const Prefetch&) = delete;

  /// The next result in order; rethrows the producer's exception.
  T next() {
    std::unique_lock lock(m_);
    cv_.wait(lock, [&] { return slot_.has_value() || error_; });
    if (!slot_) std::rethrow_exception(error_);
    T v = std::move(*slot_);
    slot_.reset();
    cv_.notify_all();
    return v;
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::optional<T> slot_;
  std::exception_ptr error_;
  bool stop_ = false;
  std::thread thread_;  // last: starts after the members it uses exist
};

// The camera over the data and the given particle sets, padded, so the clip does not jump
// (or over the options' fixed limits).
SceneCamera clip_camera(const std::vector<const Points*>& sets, const AnimationOptions& o, int legend_lines = 2) {
  const int w = o.video.width, h = o.video.height, top = legend_height(h, legend_lines);  // the scene below it
  if (o.limits.size() == 4) return fit_camera(o.limits[0], o.limits[1], o.limits[2], o.limits[3], w, h, top);
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const Points* p : sets)
    for (Eigen::Index k = 0; k < p->cols(); ++k) {
      const double x = (*p)(0, k), y = (*p)(1, k);
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  if (!(x0 < x1) || !(y0 < y1)) return fit_camera(-2, 2, -2, 2, w, h, top);
  const double pad = 0.04 * std::max(x1 - x0, y1 - y0);
  return fit_camera(x0 - pad, x1 + pad, y0 - pad, y1 + pad, w, h, top);
}

SampleResult run_sampler(const ScoreModel& model, const Schedule& schedule, const AnimationOptions& o,
                         double eta, int stride, const std::atomic<bool>* cancel,
                         const std::function<void(double)>& progress = {}) {
  SamplerOptions so;
  so.eta = eta;
  so.n = o.n;
  so.steps = o.steps;
  so.seed = o.seed;  // the same seed at every η: common random numbers
  so.stride = stride;
  so.threads = o.threads;
  so.record_action = o.style.trail_color == TrailColor::Action;  // only the colour needs it
  return sample(model, schedule, so, cancel, progress);
}

void set_action_range(Scene& scene, const Vec& action) {
  const auto range = action_color_range(action);
  scene.action_lo = range[0];
  scene.action_hi = range[1];
}

void validate(const AnimationOptions& o) {
  if (o.etas.empty()) throw Error("animate: no η given");
  for (double eta : o.etas)
    if (!(eta >= 0 && eta <= 1)) throw Error("animate: η must be in [0, 1]");
  if (o.kind != AnimationKind::Eta && o.frames < 2) throw Error("animate: at least 2 frames");
  if (o.style.trail_every < 1) throw Error("animate: trail_every must be at least 1");
  if (!o.limits.empty() && (o.limits.size() != 4 || !(o.limits[0] < o.limits[1]) || !(o.limits[2] < o.limits[3])))
    throw Error("animate: limits must be {x0, x1, y0, y1} with x0 < x1, y0 < y1");
}

void check_2d(int dim) {
  if (dim != 2) throw Error("animate: the scene is 2D, the model has dimension " + std::to_string(dim));
}

// Renders and encodes frames, timing both and reporting progress.
struct FrameSink {
  VideoWriter& writer;
  AnimationReport& rep;
  const std::function<void(double)>& progress;
  bool gif = false;
  SceneRenderer renderer;

  // A GIF's palette is fixed by its first frame: a scene known in advance with the colours
  // still to come (the clip's last) joins it.
  void palette_hint(const Scene& scene) {
    if (gif) writer.set_palette_hint(renderer.render(scene));
  }

  void emit(const Scene& scene, double done) {
    auto t0 = Clock::now();
    const std::vector<uint8_t>& rgba = renderer.render(scene);
    rep.render_seconds += seconds_since(t0);
    t0 = Clock::now();
    writer.write_rgba(rgba);
    rep.encode_seconds += seconds_since(t0);
    ++rep.frames;
    if (progress) progress(done);
  }
};

// Time flow: every step recorded (the trails use all), then `frames` of them evenly over the
// clip. Returns false if cancelled.
bool time_flow(const ScoreModel& model, const Schedule& schedule, const Points& data, const std::string& caption,
               const AnimationOptions& o, const std::atomic<bool>* cancel, FrameSink& sink) {
  const auto t0 = Clock::now();
  const SampleResult r = run_sampler(model, schedule, o, o.etas.front(), 1, cancel, [&](double f) {
    if (sink.progress) sink.progress(0.5 * f);
  });
  sink.rep.sample_seconds += seconds_since(t0);
  if (r.cancelled) return false;
  std::vector<const Points*> sets = {&data};
  for (const Points& fr : r.frames) sets.push_back(&fr);
  Scene scene;
  scene.data = &data;
  scene.paths = &r;
  scene.t_min = schedule.t_min, scene.t_max = schedule.t_max;
  set_action_range(scene, r.action);
  scene.camera = clip_camera(sets, o);
  scene.style = o.style;
  scene.particles = &r.frames.back();
  scene.t = r.frame_times.back();
  scene.legend = scene_legend(caption, o.etas.front(), scene.t);
  sink.palette_hint(scene);
  const size_t F = r.frames.size(), shown = std::min(F, size_t(o.frames));
  for (size_t j = 0; j < shown; ++j) {
    if (cancel && cancel->load()) return false;
    const size_t k = size_t(std::llround(double(j) * double(F - 1) / double(shown - 1)));
    scene.particles = &r.frames[k];
    scene.t = r.frame_times[k];
    scene.legend = scene_legend(caption, o.etas.front(), scene.t);
    sink.emit(scene, 0.5 + 0.5 * double(j + 1) / double(shown));
  }
  return true;
}

// The trail stride of a clip's runs: whole trails at Tmin in kMorphTrailFrames pieces.
int trail_stride(const AnimationOptions& o) { return o.style.trails ? std::max(1, o.steps / kMorphTrailFrames) : 0; }

// The η morph: the last η's run first (the camera covers the data, the first and the last η),
// then η₀, η₁, … sampled one ahead of the frame being rendered. Returns false if cancelled.
bool eta_morph(const ScoreModel& model, const Schedule& schedule, const Points& data, const std::string& caption,
               const AnimationOptions& o, const std::atomic<bool>* cancel, FrameSink& sink) {
  const int stride = trail_stride(o);
  const int count = int(o.etas.size());
  double sample_seconds = 0;  // written by the producer, read after it is joined
  auto sample_eta = [&](int i) {
    const auto t0 = Clock::now();
    SampleResult r = run_sampler(model, schedule, o, o.etas[size_t(i)], stride, cancel);
    sample_seconds += seconds_since(t0);
    return r;
  };
  const SampleResult last = sample_eta(count - 1);
  if (last.cancelled) return false;
  bool cancelled = false;
  {
    Prefetch<SampleResult> runs(count - 1, sample_eta);
    Scene scene;
    scene.data = &data;
    scene.t = scene.t_min = schedule.t_min;
    scene.t_max = schedule.t_max;
    scene.style = o.style;
    for (int i = 0; i < count && !cancelled; ++i) {
      SampleResult next;
      if (i + 1 < count) next = runs.next();
      const SampleResult& run = i + 1 < count ? next : last;
      if (run.cancelled || (cancel && cancel->load())) {
        cancelled = true;
        break;
      }
      if (i == 0) {
        scene.camera = clip_camera({&data, &run.samples, &last.samples}, o);
        Scene at_last = scene;
        at_last.paths = &last;
        at_last.particles = &last.samples;
        set_action_range(at_last, last.action);
        at_last.legend = scene_legend(caption, o.etas.back(), scene.t);
        sink.palette_hint(at_last);
      }
      scene.paths = &run;
      scene.particles = &run.samples;
      set_action_range(scene, run.action);
      scene.legend = scene_legend(caption, o.etas[size_t(i)], scene.t);
      sink.emit(scene, double(i + 1) / double(count));
    }
  }  // the producer is joined here
  sink.rep.sample_seconds += sample_seconds;
  return !cancelled;
}

// The end of a clip: cancelled, the writer's destructor removes the partial file; done, the
// encoder is flushed and the file renamed into place.
AnimationReport finish_clip(VideoWriter& writer, AnimationReport rep, bool done, Clock::time_point start) {
  if (!done) {
    rep.cancelled = true;
    return rep;
  }
  const auto t0 = Clock::now();
  writer.finish();
  rep.encode_seconds += seconds_since(t0);
  rep.total_seconds = seconds_since(start);
  return rep;
}

}  // namespace

AnimationReport write_animation(const ScoreModel& model, const Schedule& schedule, const Points& data,
                                const std::string& caption, const AnimationOptions& o,
                                const std::string& path, const std::atomic<bool>* cancel,
                                const std::function<void(double)>& progress) {
  validate(o);
  check_2d(model.dim());
  if (o.kind == AnimationKind::Training) throw Error("animate: the training animation is write_training_animation");
  const auto start = Clock::now();
  VideoWriter writer(path, o.video);  // a bad path, size or fps fails here, before sampling
  AnimationReport rep;
  FrameSink sink{writer, rep, progress, video_format_for_path(path) == VideoFormat::Gif, {}};
  const bool done = o.kind == AnimationKind::Time ? time_flow(model, schedule, data, caption, o, cancel, sink)
                                                  : eta_morph(model, schedule, data, caption, o, cancel, sink);
  return finish_clip(writer, rep, done, start);
}

// Training: the trainer steps on the producer thread, which samples each snapshot while the
// previous frame renders (the trainer is only ever touched by that thread).
AnimationReport write_training_animation(const TrainConfig& config, const std::string& caption,
                                         const AnimationOptions& o, const std::string& path,
                                         const std::atomic<bool>* cancel, const std::function<void(double)>& progress) {
  validate(o);
  if (o.train_steps < 1) throw Error("animate: at least 1 training step");
  const auto start = Clock::now();
  VideoWriter writer(path, o.video);  // a bad path, size or fps fails here, before training
  DsmTrainer trainer(config);
  check_2d(trainer.dim());
  const Points& data = trainer.data();
  AnimationReport rep;
  FrameSink sink{writer, rep, progress, video_format_for_path(path) == VideoFormat::Gif, {}};
  struct Snapshot {
    SampleResult run;
    int64_t step = 0;
    double loss = NAN;  // mean batch loss since the previous snapshot
  };
  double train_seconds = 0, sample_seconds = 0;  // the producer's, read after it is joined
  auto stopped = [&] { return cancel && cancel->load(); };
  auto snapshot = [&](int j) {
    const int64_t target = std::llround(double(j) * double(o.train_steps) / double(o.frames - 1));
    Snapshot s;
    auto t0 = Clock::now();
    double sum = 0;
    int count = 0;
    for (; trainer.steps_done() < target && !stopped(); ++count) sum += trainer.step();
    train_seconds += seconds_since(t0);
    s.step = trainer.steps_done();
    s.loss = count ? sum / count : NAN;
    t0 = Clock::now();
    const Mlp net(trainer.params());
    s.run = run_sampler(net, config.schedule, o, o.etas.front(), trail_stride(o), cancel);
    sample_seconds += seconds_since(t0);
    return s;
  };
  bool cancelled = false;
  {
    Prefetch<Snapshot> snapshots(o.frames, snapshot);
    Scene scene;
    scene.data = &data;
    scene.t = scene.t_min = config.schedule.t_min;
    scene.t_max = config.schedule.t_max;
    scene.style = o.style;
    // The data, padded: an untrained network's samples may be anywhere.
    scene.camera = clip_camera({&data}, o, 3);
    for (int j = 0; j < o.frames; ++j) {
      const Snapshot s = snapshots.next();
      if (s.run.cancelled || stopped()) {
        cancelled = true;
        break;
      }
      scene.paths = &s.run;
      scene.particles = &s.run.samples;
      set_action_range(scene, s.run.action);
      scene.legend = scene_legend(caption, o.etas.front(), scene.t);
      char line[96];
      if (s.step == 0) std::snprintf(line, sizeof line, "training: untrained");
      else std::snprintf(line, sizeof line, "training step %lld of %lld, loss %.3g", (long long)s.step,
                         (long long)o.train_steps, s.loss);
      scene.legend.push_back(line);
      sink.emit(scene, double(j + 1) / double(o.frames));
    }
  }  // the producer is joined here
  rep.train_seconds = train_seconds;
  rep.sample_seconds = sample_seconds;
  return finish_clip(writer, rep, !cancelled, start);
}

}  // namespace diffpath
