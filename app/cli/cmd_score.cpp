// diffpath-cli score: evaluates a score model s(x, t) at the points of a CSV file (for checking
// models against each other and for plotting score fields). Output header sx,sy (sx in 1D).
#include <cmath>
#include <cstdio>

#include "cli_common.hpp"
#include "diffpath/io.hpp"
#include "diffpath/mlp.hpp"
#include "diffpath/parallel.hpp"
#include "diffpath/score_model.hpp"

namespace diffpath::cli {

namespace {

struct ScoreOptions {
  ScoreArgs model;
  double t = 0.5;
  std::string in, out;
  std::string precision = "double";
  int threads = 0;
  bool json = false;
};

constexpr const char* kScoreHelp =
    "Score specs:\n"
    "  model:PATH                a safetensors checkpoint (e.g. written by `train`)\n"
    "  exact:DATA                exact score of a mixture data set (25gaussians, 8gaussians, ...)\n"
    "                            or the empirical score of --n-data points of DATA\n"
    "  gaussian:m=..,v=..,eps=..,delta=..[,d=..]   linear Gaussian score with deliberate errors\n"
    "Input: CSV with one point per row (1 or 2 columns, header optional).\n"
    "Output: CSV with header sx,sy (sx in 1D), one row per input point, %.17g.";

std::vector<std::string> score_header(int d) {
  if (d == 1) return {"sx"};
  if (d == 2) return {"sx", "sy"};
  std::vector<std::string> names;
  for (int i = 1; i <= d; ++i) names.push_back("s" + std::to_string(i));
  return names;
}

// An MLP is evaluated in double unless asked otherwise: this command is for checking.
ScoreModelPtr with_precision(ScoreModelPtr model, const std::string& precision) {
  const auto* mlp = dynamic_cast<const Mlp*>(model.get());
  if (!mlp) return model;
  auto copy = std::make_shared<Mlp>(*mlp);
  copy->set_precision(precision == "float" ? Precision::Float : Precision::Double);
  return copy;
}

void run_score(const ScoreOptions& o) {
  check_outputs({o.out});
  if (!std::isfinite(o.t) || o.t <= 0.0)
    throw Error("--t must be a positive finite time, got " + std::to_string(o.t));
  const Schedule schedule = o.model.resolve_schedule();
  const ScoreModelPtr model = with_precision(o.model.make_model(schedule), o.precision);
  const Points x = read_points_csv(o.in);
  if (x.rows() != model->dim())
    throw Error(o.in + " has " + std::to_string(x.rows()) + " column(s) but " + model->spec() +
                " is a d = " + std::to_string(model->dim()) + " model");
  if (o.t < schedule.t_min || o.t > schedule.t_max)
    std::fprintf(stderr, "warning: t = %g is outside the schedule's [%g, %g]\n", o.t,
                 schedule.t_min, schedule.t_max);

  // Chunks of points in parallel: each chunk's result depends only on its own points.
  constexpr int kChunk = 1024;
  const int n = int(x.cols()), chunks = (n + kChunk - 1) / kChunk;
  Points s(x.rows(), n);
  parallel_for(chunks, o.threads, [&](int begin, int end) {
    Points part;
    for (int c = begin; c < end; ++c) {
      const int c0 = c * kChunk, m = std::min(kChunk, n - c0);
      model->score(x.middleCols(c0, m), o.t, part);
      s.middleCols(c0, m) = part;
    }
  });
  if (!s.allFinite()) throw Error("the score is not finite at some input points");
  write_table_csv(o.out, score_header(int(x.rows())), s.transpose());

  if (o.json) {
    print_json({{"score", model->spec()}, {"t", o.t}, {"schedule", schedule.spec()},
                {"n", n}, {"dim", x.rows()}, {"out", o.out}});
  } else {
    std::fprintf(stderr, "wrote scores of %s at t = %g for %d points to %s\n",
                 model->spec().c_str(), o.t, n, o.out.c_str());
  }
}

}  // namespace

void add_score_command(CLI::App& app) {
  auto options = std::make_shared<ScoreOptions>();
  CLI::App* cmd = app.add_subcommand("score", "Evaluate a score model s(x, t) at points of a CSV");
  cmd->footer(kScoreHelp);
  options->model.add_options(cmd);
  cmd->add_option("--t", options->t, "Diffusion time t")->required();
  cmd->add_option("--in", options->in, "Input CSV of points")->required();
  cmd->add_option("--out", options->out, "Output CSV of scores (sx,sy)")->required();
  cmd->add_option("--precision", options->precision, "MLP evaluation precision")
      ->check(CLI::IsMember({"float", "double"}))
      ->capture_default_str();
  cmd->add_option("--threads", options->threads, "Threads (0 = all)")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_flag("--json", options->json, "Print {score, t, schedule, n, dim, out} as JSON");
  cmd->callback([options] { run_score(*options); });
}

}  // namespace diffpath::cli
