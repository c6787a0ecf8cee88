// diffpath-cli sample: runs the η-sampler (DESIGN §1.3) and writes the samples, optionally
// the recorded trajectories (long format, with each particle's action), as CSV.
#include <chrono>
#include <cmath>
#include <cstdio>

#include "cli_common.hpp"
#include "diffpath/dataset.hpp"
#include "diffpath/figure.hpp"
#include "diffpath/io.hpp"
#include "diffpath/sampler.hpp"
#include "diffpath/schedule.hpp"
#include "diffpath/score_model.hpp"
#include "diffpath/stats.hpp"

namespace diffpath::cli {

namespace {

struct SampleCliOptions {
  ScoreArgs model;
  std::string solver = "em", out, trajectories, plot, plot_data;
  SamplerOptions sampler;
  bool json = false;
};

constexpr const char* kSampleHelp =
    "Score models (--score):\n"
    "  exact:DATA                        exact ∇log p_t of a mixture data set (25gaussians,\n"
    "                                    8gaussians, gaussian1d:.., gaussian:..), or the\n"
    "                                    empirical score of --n-data points of any other set\n"
    "  gaussian:m=M,v=V,eps=E,delta=D[,d=N]  linear score with deliberate errors\n"
    "  model:PATH                        a trained checkpoint\n"
    "Schedules (--schedule): simple | cosine | linear[:bmin=..,bmax=..,tmin=..,tmax=..]\n"
    "Output: samples.csv has header x,y (x in 1D); the trajectory file is long format\n"
    "particle,step,t,x,y,action with frames every --stride steps (the last step always) and\n"
    "each particle's Onsager–Machlup action Ã_{θ,η} (EM discretization) repeated on its rows.";

std::vector<double> row(const Points& p, int i) {
  return std::vector<double>(p.row(i).begin(), p.row(i).end());
}

// A look at the samples: a scatter (2D) or a density histogram (1D), over reference data in
// grey when --plot-data names a data set.
void plot_samples(const SampleCliOptions& o, const Points& samples) {
  Figure fig;
  char title[160];
  std::snprintf(title, sizeof title, "%s, %s schedule, η = %g, %d steps", o.model.score.c_str(),
                o.model.resolve_schedule().spec().c_str(), o.sampler.eta, o.sampler.steps);
  fig.title = title;
  const Points data = o.plot_data.empty()
                          ? Points()
                          : make_dataset(o.plot_data, int(samples.cols()), o.sampler.seed + 1).points;
  if (samples.rows() == 1) {
    fig.xlabel = "x";
    fig.ylabel = "density";
    if (data.size() > 0)
      fig.series.push_back(Series::histogram_of(row(data, 0), 60, true, o.plot_data));
    fig.series.push_back(Series::histogram_of(row(samples, 0), 60, true, "samples"));
  } else {
    fig.xlabel = "x";
    fig.ylabel = "y";
    fig.aspect_equal = true;
    if (data.size() > 0) {
      auto d = Series::scatter(row(data, 0), row(data, 1), o.plot_data + " (fresh data)");
      d.color = Color::rgb(0xBBBBBB);
      d.marker_radius = 1.6;
      fig.series.push_back(d);
    }
    auto s = Series::scatter(row(samples, 0), row(samples, 1), "samples");
    s.marker_radius = 1.6;
    s.alpha = 0.8;
    fig.series.push_back(s);
  }
  save_figure(fig, o.plot, 700, 640);
  std::fprintf(stderr, "wrote plot %s\n", o.plot.c_str());
}

// Samples that are NaN or ±Inf are garbage, not a result: the score model (or the data of an
// exact score) overflows along the paths.
void check_finite_samples(const Points& samples, const std::string& score) {
  const Eigen::Index bad = samples.cols() - (samples.array().isFinite().colwise().all()).count();
  if (bad > 0)
    throw Error("sampling gave non-finite values for " + std::to_string(bad) + " of " +
                std::to_string(samples.cols()) + " particles: the score " + score +
                " overflows along the paths; nothing was written");
}

void run_sample(SampleCliOptions o) {
  check_outputs({o.out, o.trajectories, o.plot});
  if (!o.plot.empty()) figure_format_for_path(o.plot);  // a bad extension fails now, not after
  const Schedule schedule = o.model.resolve_schedule();
  const ScoreModelPtr model = o.model.make_model(schedule);
  o.sampler.solver = o.solver == "heun" ? Solver::Heun : Solver::EulerMaruyama;
  if (o.trajectories.empty()) o.sampler.stride = 0;  // no frames needed

  ProgressBar bar("sample");
  const auto start = std::chrono::steady_clock::now();
  const SampleResult r = sample(*model, schedule, o.sampler, nullptr,
                                [&](double f) { bar.update(f); });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double rate = double(o.sampler.n) * o.sampler.steps / std::max(seconds, 1e-9);
  char extra[64];
  std::snprintf(extra, sizeof extra, "(%.3g particle-steps/s)", rate);
  bar.finish(extra);
  check_finite_samples(r.samples, o.model.score);

  write_points_csv(o.out, r.samples);
  if (!o.trajectories.empty())
    write_trajectories_csv(o.trajectories, r.frame_steps, r.frame_times, r.frames, &r.action);
  if (!o.plot.empty()) plot_samples(o, r.samples);

  const MeanSe action = mean_se(std::span<const double>(r.action.data(), size_t(r.action.size())));
  const double mean_action = action.mean, action_se = action.se;  // se NaN (null) for n = 1
  if (o.json) {
    nlohmann::json j = {{"score", model->spec()},      {"schedule", schedule.spec()},
                        {"n", o.sampler.n},            {"eta", o.sampler.eta},
                        {"steps", o.sampler.steps},    {"seed", o.sampler.seed},
                        {"solver", o.solver},          {"dim", model->dim()},
                        {"seconds", seconds},          {"particle_steps_per_second", rate},
                        {"mean_action", mean_action},  {"mean_action_se", action_se},
                        {"out", o.out}};
    if (!o.trajectories.empty()) {
      j["trajectories"] = o.trajectories;
      j["frames"] = r.frames.size();
    }
    print_json(j);
  } else {
    std::fprintf(stderr, "wrote %d samples (eta = %g, %d steps) to %s; mean action %.6g ± %.2g\n",
                 o.sampler.n, o.sampler.eta, o.sampler.steps, o.out.c_str(), mean_action,
                 action_se);
    if (!o.trajectories.empty())
      std::fprintf(stderr, "wrote %zu frames per particle to %s\n", r.frames.size(),
                   o.trajectories.c_str());
  }
}

}  // namespace

void add_sample_command(CLI::App& app) {
  auto o = std::make_shared<SampleCliOptions>();
  o->sampler.stride = 10;
  CLI::App* cmd = app.add_subcommand("sample", "Sample with the eta-interpolated reverse process");
  cmd->footer(kSampleHelp);
  o->model.add_options(cmd);
  cmd->add_option("--eta", o->sampler.eta, "Noise level: 1 = reverse SDE, 0 = probability-flow ODE")
      ->capture_default_str()
      ->check(in_range(0.0, 1.0));
  cmd->add_option("--n", o->sampler.n, "Number of particles")
      ->capture_default_str()
      ->check(in_range(1, 100000000));
  cmd->add_option("--steps", o->sampler.steps, "Time steps from Tmax to Tmin")
      ->capture_default_str()
      ->check(in_range(1, 100000000));
  cmd->add_option("--seed", o->sampler.seed, "Seed (same seed: same start points and noise)")
      ->capture_default_str();
  cmd->add_option("--solver", o->solver, "em (any eta) or heun (eta = 0)")
      ->capture_default_str()
      ->check(CLI::IsMember({"em", "heun"}));
  cmd->add_option("--threads", o->sampler.threads, "Threads (0 = all cores)")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_option("--out", o->out, "Samples CSV (header x,y; x in 1D)")->required();
  CLI::Option* traj =
      cmd->add_option("--trajectories", o->trajectories, "Trajectory CSV (long format + action)");
  cmd->add_option("--stride", o->sampler.stride, "Record a trajectory frame every K steps")
      ->capture_default_str()
      ->check(positive())
      ->needs(traj);
  cmd->add_option("--plot", o->plot, "Also draw the samples (.png, .svg or .pdf)");
  cmd->add_option("--plot-data", o->plot_data, "Data set drawn in grey under the samples");
  cmd->add_flag("--json", o->json,
                "Print {n, eta, steps, seconds, mean_action, ...} as JSON on stdout");
  cmd->callback([o] { run_sample(*o); });
}

}  // namespace diffpath::cli
