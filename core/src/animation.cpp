// Animations of the η-sampler (animation.hpp): sampling with recorded frames, one Figure per
// video frame, encoded by VideoWriter.
#include "diffpath/animation.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace diffpath {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<double> row(const Points& p, int i) { return {p.row(i).data(), p.row(i).data() + p.cols()}; }

// Limits over the data and every frame's particles, padded, so the clip does not jump (or
// the options' fixed ones).
void fit_limits(AnimationScene& s, const std::vector<const Points*>& sets, const AnimationOptions& o) {
  if (o.limits.size() == 4) {
    s.x0 = o.limits[0], s.x1 = o.limits[1], s.y0 = o.limits[2], s.y1 = o.limits[3];
    return;
  }
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const Points* p : sets)
    for (Eigen::Index k = 0; k < p->cols(); ++k) {
      const double x = (*p)(0, k), y = (*p)(1, k);
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  if (!(x0 < x1) || !(y0 < y1)) return;
  const double pad = 0.06 * std::max(x1 - x0, y1 - y0);
  s.x0 = x0 - pad, s.x1 = x1 + pad, s.y0 = y0 - pad, s.y1 = y1 + pad;
}

// The trail of particle p over frames [0, upto] (2 × (upto + 1)).
Points trail_of(const SampleResult& r, Eigen::Index p, size_t upto) {
  Points t(2, Eigen::Index(upto + 1));
  for (size_t k = 0; k <= upto; ++k) t.col(Eigen::Index(k)) = r.frames[k].col(p);
  return t;
}

SampleResult run_sampler(const ScoreModel& model, const Schedule& schedule, const AnimationOptions& o,
                         double eta, int stride, const std::atomic<bool>* cancel) {
  SamplerOptions so;
  so.eta = eta;
  so.n = o.n;
  so.steps = o.steps;
  so.seed = o.seed;  // the same seed at every η: common random numbers
  so.stride = stride;
  so.threads = o.threads;
  return sample(model, schedule, so, cancel);
}

}  // namespace

Figure animation_frame(const AnimationScene& s, const AnimationOptions& o) {
  Figure f;
  char title[160];
  std::snprintf(title, sizeof title, "η = %.2f   t = %.3f", s.eta, s.t);
  f.title = title;
  f.xlabel = s.caption;  // data · schedule · model, under the scene
  f.aspect_equal = true;
  f.grid = false;
  f.legend = LegendPlace::None;
  f.xmin = s.x0, f.xmax = s.x1, f.ymin = s.y0, f.ymax = s.y1;
  Series data = Series::scatter(row(s.data, 0), row(s.data, 1));
  data.with_color(Color::rgb(0x56B4E9, 0.35)).marker_radius = 1.6;
  f.series.push_back(std::move(data));
  for (const Points& t : s.trails)
    f.series.push_back(Series::line(row(t, 0), row(t, 1)).with_color(Color::rgb(0x555555, 0.12)));
  if (o.color_by_action && s.action.size() == s.particles.cols()) {
    Series p = Series::scatter_colored(row(s.particles, 0), row(s.particles, 1),
                                       {s.action.data(), s.action.data() + s.action.size()});
    p.marker_radius = 2.2;
    f.series.push_back(std::move(p));
    f.colorbar_label = "action Ã";
  } else {
    Series p = Series::scatter(row(s.particles, 0), row(s.particles, 1));
    p.with_color(Color::rgb(0xE69F00, 0.85)).marker_radius = 2.2;
    f.series.push_back(std::move(p));
  }
  return f;
}

AnimationReport write_animation(const ScoreModel& model, const Schedule& schedule, const Points& data,
                                const std::string& caption, const AnimationOptions& o,
                                const std::string& path, const std::atomic<bool>* cancel,
                                const std::function<void(double)>& progress) {
  if (model.dim() != 2) throw Error("animate: the scene is 2D, the model has dimension " + std::to_string(model.dim()));
  if (o.etas.empty()) throw Error("animate: no η given");
  for (double eta : o.etas)
    if (!(eta >= 0 && eta <= 1)) throw Error("animate: η must be in [0, 1]");
  if (o.kind == AnimationKind::Time && o.frames < 2) throw Error("animate: at least 2 frames");
  if (o.trail_every < 1) throw Error("animate: trail_every must be at least 1");
  if (!o.limits.empty() && (o.limits.size() != 4 || !(o.limits[0] < o.limits[1]) || !(o.limits[2] < o.limits[3])))
    throw Error("animate: limits must be {x0, x1, y0, y1} with x0 < x1, y0 < y1");
  VideoWriter writer(path, o.video);  // a bad path, size or fps fails here, before sampling
  AnimationReport rep;
  AnimationScene scene;
  scene.data = data;
  scene.caption = caption;
  auto emit = [&](double done) {
    auto t0 = std::chrono::steady_clock::now();
    const std::vector<uint8_t> rgba =
        render_rgba(animation_frame(scene, o), o.video.width, o.video.height);
    rep.render_seconds += seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    writer.write_rgba(rgba);
    rep.encode_seconds += seconds_since(t0);
    ++rep.frames;
    if (progress) progress(done);
  };
  auto stopped = [&] { return cancel && cancel->load(); };
  // Cancelled: the writer's destructor removes the partial file.
  auto cancelled = [](AnimationReport& r) {
    r.cancelled = true;
    return r;
  };

  if (o.kind == AnimationKind::Time) {
    // Every step recorded, then `frames` of them evenly over the clip (trails use all).
    auto t0 = std::chrono::steady_clock::now();
    const SampleResult r = run_sampler(model, schedule, o, o.etas.front(), 1, cancel);
    rep.sample_seconds += seconds_since(t0);
    if (r.cancelled || stopped()) return cancelled(rep);
    std::vector<const Points*> sets = {&data};
    for (const Points& fr : r.frames) sets.push_back(&fr);
    fit_limits(scene, sets, o);
    scene.eta = o.etas.front();
    scene.action = r.action;
    const size_t F = r.frames.size(), shown = std::min(F, size_t(o.frames));
    for (size_t j = 0; j < shown; ++j) {
      if (stopped()) return cancelled(rep);
      const size_t k = shown == 1 ? F - 1 : size_t(std::llround(double(j) * double(F - 1) / double(shown - 1)));
      scene.particles = r.frames[k];
      scene.t = r.frame_times[k];
      scene.trails.clear();
      if (o.trails)
        for (Eigen::Index p = 0; p < r.frames[k].cols(); p += o.trail_every) scene.trails.push_back(trail_of(r, p, k));
      emit(double(j + 1) / double(shown));
    }
  } else {
    // η morph: every η's full run first (the limits cover all of them), then the frames.
    const int stride = std::max(1, o.steps / 50);
    std::vector<SampleResult> runs;
    auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < o.etas.size(); ++i) {
      runs.push_back(run_sampler(model, schedule, o, o.etas[i], o.trails ? stride : 0, cancel));
      if (runs.back().cancelled || stopped()) return cancelled(rep);
      if (progress) progress(0.5 * double(i + 1) / double(o.etas.size()));
    }
    rep.sample_seconds += seconds_since(t0);
    std::vector<const Points*> sets = {&data};
    for (const SampleResult& r : runs) sets.push_back(&r.samples);
    fit_limits(scene, sets, o);
    scene.t = schedule.t_min;
    for (size_t i = 0; i < runs.size(); ++i) {
      if (stopped()) return cancelled(rep);
      const SampleResult& r = runs[i];
      scene.eta = o.etas[i];
      scene.particles = r.samples;
      scene.action = r.action;
      scene.trails.clear();
      if (o.trails && !r.frames.empty())
        for (Eigen::Index p = 0; p < r.samples.cols(); p += o.trail_every)
          scene.trails.push_back(trail_of(r, p, r.frames.size() - 1));
      emit(0.5 + 0.5 * double(i + 1) / double(runs.size()));
    }
  }
  auto t0 = std::chrono::steady_clock::now();
  writer.finish();
  rep.encode_seconds += seconds_since(t0);
  return rep;
}

}  // namespace diffpath
