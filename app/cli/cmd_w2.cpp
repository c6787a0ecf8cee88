// diffpath-cli w2: sample quality as the exact squared 2-Wasserstein distance between generated
// samples and fresh data, swept over η with several trials each (DESIGN §1.8).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "cli_common.hpp"
#include "diffpath/checkpoint.hpp"
#include "diffpath/figure.hpp"
#include "diffpath/io.hpp"
#include "diffpath/score_model.hpp"
#include "diffpath/transport.hpp"

namespace diffpath::cli {

namespace {

struct W2Cli {
  ScoreArgs model;
  std::string data, eta = "0:0.2:11", csv, plot;
  int trials = 10, n = 3000, steps = 1000, threads = 0;
  uint64_t seed = 1;
  bool json = false;
};

constexpr const char* kW2Help =
    "For each eta and trial k: n samples from the eta-sampler (Euler-Maruyama, --steps) with\n"
    "seed stream k of --seed — the same at every eta (common random numbers, so the curve is\n"
    "smooth) — against n fresh points of --data from data stream k. W2² is exact optimal\n"
    "transport with squared-Euclidean cost (LEMON network simplex). Prints mean ± standard\n"
    "error over trials. --eta: A:B:K (K values from A to B inclusive), a comma list, or one value.\n"
    "--csv FILE: eta,w2_squared,se,trial_1..trial_K.  --plot FILE.png|svg|pdf: the curve.";

Figure w2_figure(const std::vector<W2Point>& pts, const std::string& data, int n) {
  std::vector<double> x, y, e;
  for (const W2Point& p : pts) x.push_back(p.eta), y.push_back(p.mean), e.push_back(p.se);
  Figure f;
  f.title = "Sample quality vs η (" + data + ")";
  f.xlabel = "η";
  f.ylabel = "W₂²  (" + std::to_string(n) + " samples vs data)";
  Series s = Series::line(x, y, "mean ± standard error");
  s.with_error(e);
  s.markers = true;
  f.series.push_back(std::move(s));
  return f;
}

void write_csv(const std::string& path, const std::vector<W2Point>& pts, int trials) {
  std::vector<std::string> header = {"eta", "w2_squared", "se"};
  for (int k = 1; k <= trials; ++k) header.push_back("trial_" + std::to_string(k));
  Eigen::MatrixXd rows(Eigen::Index(pts.size()), 3 + trials);
  for (size_t i = 0; i < pts.size(); ++i) {
    const auto r = Eigen::Index(i);
    rows(r, 0) = pts[i].eta;
    rows(r, 1) = pts[i].mean;
    rows(r, 2) = pts[i].se;
    for (int k = 0; k < trials; ++k) rows(r, 3 + k) = pts[i].trials[size_t(k)];
  }
  write_table_csv(path, header, rows);
}

void run_w2(const W2Cli& o) {
  W2SweepOptions opt;
  opt.etas = parse_eta_list(o.eta);
  opt.trials = o.trials;
  opt.n = o.n;
  opt.steps = o.steps;
  opt.seed = o.seed;
  opt.threads = o.threads;
  check_outputs({o.csv, o.plot});
  if (!o.plot.empty()) figure_format_for_path(o.plot);   // a bad extension fails before the work

  const Schedule schedule = o.model.resolve_schedule();
  const ScoreModelPtr model = o.model.make_model(schedule);

  const auto t0 = std::chrono::steady_clock::now();
  ProgressBar bar("w2");
  const std::vector<W2Point> pts = w2_sweep(*model, schedule, o.data, opt, nullptr,
                                            [&](double f, const std::string& note) {
                                              bar.update(f, note);
                                            });
  bar.finish();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  if (!o.csv.empty()) write_csv(o.csv, pts, o.trials);
  if (!o.plot.empty()) save_figure(w2_figure(pts, o.data, o.n), o.plot);

  if (o.json) {
    nlohmann::json rows = nlohmann::json::array();
    for (const W2Point& p : pts)
      rows.push_back({{"eta", p.eta}, {"mean", p.mean}, {"se", p.se}, {"trials", p.trials}});
    print_json({{"w2", rows},
                {"score", model->spec()},
                {"data", o.data},
                {"schedule", schedule.spec()},
                {"n", o.n},
                {"trials", o.trials},
                {"steps", o.steps},
                {"seed", o.seed},
                {"seconds", seconds}});
    return;
  }
  std::printf("score %s, data %s, schedule %s\n%d trials of %d samples vs %d data points, %d "
              "steps, seed %llu\n",
              model->spec().c_str(), o.data.c_str(), schedule.spec().c_str(), o.trials, o.n,
              o.n, o.steps, (unsigned long long)o.seed);
  std::printf("%10s  %14s  %12s\n", "eta", "W2^2", "se");
  for (const W2Point& p : pts) std::printf("%10.4g  %14.6g  %12.3g\n", p.eta, p.mean, p.se);
  std::printf("time %.1f s\n", seconds);
}

}  // namespace

void add_w2_command(CLI::App& app) {
  auto o = std::make_shared<W2Cli>();
  CLI::App* cmd = app.add_subcommand(
      "w2", "Exact W2² between samples and data, swept over eta (mean ± se over trials)");
  cmd->footer(kW2Help);
  o->model.add_options(cmd);
  cmd->add_option("--data", o->data, "Data set to compare with (see `data --help`)")->required();
  cmd->add_option("--eta", o->eta, "A:B:K, a comma list, or one value")->capture_default_str();
  cmd->add_option("--trials", o->trials, "Trials per eta")
      ->capture_default_str()
      ->check(in_range(1, 10000));
  cmd->add_option("--n", o->n, "Samples (and data points) per trial")
      ->capture_default_str()
      ->check(in_range(1, 8000));
  cmd->add_option("--steps", o->steps, "Euler-Maruyama steps")
      ->capture_default_str()
      ->check(in_range(1, 1000000));
  cmd->add_option("--seed", o->seed, "Seed of samples and data")->capture_default_str();
  cmd->add_option("--threads", o->threads, "Threads (0 = all)")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_option("--csv", o->csv, "Write eta,w2_squared,se,trial_1..trial_K");
  cmd->add_option("--plot", o->plot, "Save the curve as .png, .svg or .pdf");
  cmd->add_flag("--json", o->json, "Print {w2:[{eta,mean,se,trials}], n, trials, ...} as JSON");
  cmd->callback([o] { run_w2(*o); });
}

}  // namespace diffpath::cli
