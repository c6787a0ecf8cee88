// Animations of the η-sampler (animation.hpp): sampling with recorded frames, one viewport
// scene per video frame (scene.hpp), encoded by VideoWriter.
#include "diffpath/animation.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

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
SceneCamera clip_camera(const std::vector<const Points*>& sets, const AnimationOptions& o) {
  const int w = o.video.width, h = o.video.height;
  if (o.limits.size() == 4) return fit_camera(o.limits[0], o.limits[1], o.limits[2], o.limits[3], w, h);
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const Points* p : sets)
    for (Eigen::Index k = 0; k < p->cols(); ++k) {
      const double x = (*p)(0, k), y = (*p)(1, k);
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  if (!(x0 < x1) || !(y0 < y1)) return fit_camera(-2, 2, -2, 2, w, h);
  const double pad = 0.06 * std::max(x1 - x0, y1 - y0);
  return fit_camera(x0 - pad, x1 + pad, y0 - pad, y1 + pad, w, h);
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

void validate(const ScoreModel& model, const AnimationOptions& o) {
  if (model.dim() != 2) throw Error("animate: the scene is 2D, the model has dimension " + std::to_string(model.dim()));
  if (o.etas.empty()) throw Error("animate: no η given");
  for (double eta : o.etas)
    if (!(eta >= 0 && eta <= 1)) throw Error("animate: η must be in [0, 1]");
  if (o.kind == AnimationKind::Time && o.frames < 2) throw Error("animate: at least 2 frames");
  if (o.style.trail_every < 1) throw Error("animate: trail_every must be at least 1");
  if (!o.limits.empty() && (o.limits.size() != 4 || !(o.limits[0] < o.limits[1]) || !(o.limits[2] < o.limits[3])))
    throw Error("animate: limits must be {x0, x1, y0, y1} with x0 < x1, y0 < y1");
}

// Renders and encodes frames, timing both and reporting progress.
struct FrameSink {
  VideoWriter& writer;
  AnimationReport& rep;
  const std::function<void(double)>& progress;
  SceneRenderer renderer;

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

// The η morph: the last η's run first (the camera covers the data, the first and the last η),
// then η₀, η₁, … sampled one ahead of the frame being rendered. Returns false if cancelled.
bool eta_morph(const ScoreModel& model, const Schedule& schedule, const Points& data, const std::string& caption,
               const AnimationOptions& o, const std::atomic<bool>* cancel, FrameSink& sink) {
  const int stride = o.style.trails ? std::max(1, o.steps / kMorphTrailFrames) : 0;
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
      if (i == 0) scene.camera = clip_camera({&data, &run.samples, &last.samples}, o);
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

}  // namespace

AnimationReport write_animation(const ScoreModel& model, const Schedule& schedule, const Points& data,
                                const std::string& caption, const AnimationOptions& o,
                                const std::string& path, const std::atomic<bool>* cancel,
                                const std::function<void(double)>& progress) {
  validate(model, o);
  const auto start = Clock::now();
  VideoWriter writer(path, o.video);  // a bad path, size or fps fails here, before sampling
  AnimationReport rep;
  FrameSink sink{writer, rep, progress, {}};
  const bool done = o.kind == AnimationKind::Time ? time_flow(model, schedule, data, caption, o, cancel, sink)
                                                  : eta_morph(model, schedule, data, caption, o, cancel, sink);
  if (!done) {
    rep.cancelled = true;  // the writer's destructor removes the partial file
    return rep;
  }
  const auto t0 = Clock::now();
  writer.finish();
  rep.encode_seconds += seconds_since(t0);
  rep.total_seconds = seconds_since(start);
  return rep;
}

}  // namespace diffpath
