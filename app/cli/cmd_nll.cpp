// diffpath-cli nll: NLL of the probability-flow ODE and the exact first-order WKB coefficient
// E[−c] (DESIGN §1.5, §1.6) of a score model on points of a data set, with a numerical-error
// estimate (the change under tenfold tighter ODE tolerances) and a count of excluded points.
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "cli_common.hpp"
#include "diffpath/checkpoint.hpp"
#include "diffpath/dataset.hpp"
#include "diffpath/io.hpp"
#include "diffpath/likelihood.hpp"
#include "diffpath/score_model.hpp"
#include "diffpath/stats.hpp"

namespace diffpath::cli {

namespace {

struct NllOptions {
  ScoreArgs model;
  std::string data, csv;
  int n = 1000;
  double rtol = 1e-5, atol = 1e-5;
  uint64_t seed = 1;
  int threads = 0, batch = 64;
  bool no_wkb = false, no_error = false, json = false;
  // NLL(η) of the stochastic sampler (DESIGN §1.9); empty = not computed.
  std::string eta;
  int paths = EtaLikelihoodOptions{}.paths, eta_steps = EtaLikelihoodOptions{}.steps;
  int eta_error_points = EtaLikelihoodOptions{}.error_points;
  CLI::Option* n_option = nullptr;  // given: also the row limit of a csv: data set
};

constexpr const char* kNllHelp =
    "Evaluation points: --n points of --data drawn with --seed (default 1). Training sets use\n"
    "seed 0 by default (`train`, exact:DATA's --data-seed), so the default evaluation set is fresh\n"
    "data; evaluating on the training points would measure memorisation, not the likelihood.\n"
    "csv:PATH evaluates the points of a file.\n"
    "Schedule: --schedule, else the checkpoint's own (model:PATH), else simple.\n"
    "Output: NLL(0) = E[-log q0(x0)] mean ± standard error, the WKB coefficient E[-c] with\n"
    "NLL(eta) ≈ NLL(0) + eta·E[-c], the numerical error of each mean (|change| when rtol and\n"
    "atol are tightened tenfold; --no-error skips that second run) and the number of points\n"
    "excluded because their ODE diverged (reasons on stderr).\n"
    "--eta LIST (A:B:K, a,b,c or one value): also NLL(eta) = E[-log q0^eta(x0)] of the\n"
    "eta-sampler itself at each eta, by Feynman-Kac importance sampling (--paths M paths per\n"
    "point, stochastic Heun with --eta-steps steps; common random numbers across eta). Each\n"
    "value comes with: se (spread over points), mc_se (the estimator's Monte-Carlo error of\n"
    "the mean), bias (its log-mean-exp bias), err (|change| at half the step, on the first\n"
    "--eta-error-points points) and the robust change from eta = 0 per point.\n"
    "--csv FILE: one row per point, header x,y,nll,c,c_err,nll_err,ok (x,... in 1D), plus\n"
    "nll_eta_<eta> per eta; excluded points appear with ok = 0 and nan values.";

std::vector<std::string> point_header(int d) {
  if (d == 1) return {"x"};
  if (d == 2) return {"x", "y"};
  std::vector<std::string> names;
  for (int i = 1; i <= d; ++i) names.push_back("x" + std::to_string(i));
  return names;
}

void write_per_point_csv(const std::string& path, const Points& x0, const LikelihoodSummary& s,
                         const EtaLikelihoodSummary* eta) {
  const int d = int(x0.rows()), n = int(x0.cols());
  const int E = eta ? int(eta->etas.size()) : 0;
  std::vector<std::string> header = point_header(d);
  for (const char* c : {"nll", "c", "c_err", "nll_err", "ok"}) header.push_back(c);
  for (int e = 0; e < E; ++e) header.push_back("nll_eta_" + format_number(eta->etas[e]));
  Eigen::MatrixXd rows(n, d + 5 + E);
  for (int p = 0; p < n; ++p) {
    const PointLikelihood& pt = s.points[p];
    const bool ok = pt.ok && (!eta || eta->points[p].ok);
    rows.row(p).head(d) = x0.col(p).transpose();
    rows(p, d) = ok ? pt.nll : NAN;
    rows(p, d + 1) = ok ? pt.c : NAN;
    rows(p, d + 2) = ok ? pt.c_err : NAN;
    rows(p, d + 3) = ok ? pt.nll_err : NAN;
    rows(p, d + 4) = ok ? 1 : 0;
    for (int e = 0; e < E; ++e) rows(p, d + 5 + e) = ok ? -eta->points[p].at[e].log_q : NAN;
  }
  write_table_csv(path, header, rows);
}

nlohmann::json robust_json(const RobustSummary& r) {
  return {{"mean", r.mean.mean},     {"se", r.mean.se},
          {"median", r.median},      {"trimmed_mean", r.trimmed_mean},
          {"ci95", {r.bootstrap.lo, r.bootstrap.hi}}};
}

nlohmann::json eta_json(const EtaLikelihoodSummary& s) {
  nlohmann::json curve = nlohmann::json::object();
  for (const EtaCurvePoint& c : s.curve)
    curve[format_number(c.eta)] = {{"mean", c.mean},
                                   {"se", c.se},
                                   {"mc_se", c.mc_se},
                                   {"bias", c.bias},
                                   {"err", c.err},
                                   {"err_points", c.err_points},
                                   {"ess_median", c.ess_median},
                                   {"delta", robust_json(c.delta)}};
  return curve;
}

void report_excluded(const Points& x0, const LikelihoodSummary& s) {
  int shown = 0;
  for (size_t p = 0; p < s.points.size() && shown < 5; ++p) {
    if (s.points[p].ok) continue;
    std::fprintf(stderr, "excluded point %zu (x0 = %s): %s\n", p,
                 [&] {
                   std::string t;
                   for (int i = 0; i < x0.rows(); ++i)
                     t += (i ? ", " : "") + format_number(x0(i, Eigen::Index(p)));
                   return t;
                 }()
                     .c_str(),
                 s.points[p].error.c_str());
    ++shown;
  }
  if (s.excluded > shown) std::fprintf(stderr, "... and %d more excluded\n", s.excluded - shown);
}

void run_nll(const NllOptions& o) {
  check_outputs({o.csv});
  const Schedule schedule = o.model.resolve_schedule();
  const ScoreModelPtr model = o.model.make_model(schedule);
  Dataset data = make_dataset(o.data, o.n, o.seed);
  if (o.n_option->count() && data.size() > o.n)  // a CSV: its first --n rows
    data.points.conservativeResize(Eigen::NoChange, o.n);
  if (data.dim() != model->dim())
    throw Error("data set " + o.data + " has dimension " + std::to_string(data.dim()) +
                " but score model " + model->spec() + " has dimension " +
                std::to_string(model->dim()));
  const std::string trained_seed = o.model.checkpoint_metadata("data_seed");
  if (!trained_seed.empty() && trained_seed == std::to_string(o.seed) &&
      o.model.checkpoint_metadata("dataset") == o.data)
    std::fprintf(stderr,
                 "warning: --seed %s is the checkpoint's training-data seed: these are the "
                 "training points, not fresh data\n",
                 trained_seed.c_str());

  LikelihoodOptions opt;
  opt.rtol = o.rtol;
  opt.atol = o.atol;
  opt.threads = o.threads;
  opt.batch = o.batch;
  opt.wkb = !o.no_wkb;
  opt.error_estimate = !o.no_error;
  const bool with_eta = !o.eta.empty();
  EtaLikelihoodOptions eopt;
  if (with_eta) {
    eopt.etas = parse_eta_list(o.eta);
    eopt.paths = o.paths;
    eopt.steps = o.eta_steps;
    eopt.error_points = o.eta_error_points;
    eopt.threads = o.threads;
    eopt.seed = o.seed;
  }
  ProgressBar bar("nll");
  const LikelihoodSummary s = evaluate_likelihood(
      *model, schedule, data.points, opt, nullptr, [&](double f) { bar.update(f); });
  bar.finish();
  EtaLikelihoodSummary es;
  if (with_eta) {
    ProgressBar eta_bar("nll(eta)");
    es = evaluate_likelihood_eta(*model, schedule, data.points, eopt, nullptr,
                                 [&](double f) { eta_bar.update(f); });
    eta_bar.finish();
  }
  if (!o.csv.empty()) write_per_point_csv(o.csv, data.points, s, with_eta ? &es : nullptr);
  report_excluded(data.points, s);
  check_usable(s);
  const RobustSummary wkb_robust = opt.wkb ? wkb_robust_summary(s) : RobustSummary{};

  if (o.json) {
    nlohmann::json j = {
        {"nll", {{"mean", s.nll_mean}, {"se", s.nll_se}, {"err", s.nll_err}}},
        {"wkb",
         {{"mean", s.wkb_mean},
          {"se", s.wkb_se},
          {"err", s.wkb_err},
          {"median", wkb_robust.median},
          {"trimmed_mean", wkb_robust.trimmed_mean},
          {"ci95", {wkb_robust.bootstrap.lo, wkb_robust.bootstrap.hi}}}},
        {"n", s.n},
        {"excluded", s.excluded},
        {"seconds", s.seconds},
        {"score", model->spec()},
        {"data", data.spec},
        {"schedule", schedule.spec()},
        {"seed", o.seed},
        {"rtol", o.rtol},
        {"atol", o.atol}};
    if (with_eta) {
      j["eta"] = eta_json(es);
      j["eta_n"] = es.n;
      j["eta_excluded"] = es.excluded;
      j["eta_seconds"] = es.seconds;
      j["eta_options"] = {{"paths", eopt.paths}, {"steps", eopt.steps},
                          {"error_points", eopt.error_points}, {"seed", eopt.seed}};
    }
    print_json(j);
    return;
  }
  std::printf("score %s, data %s (n = %d, seed %llu), schedule %s, rtol %g, atol %g\n",
              model->spec().c_str(), data.spec.c_str(), data.size(),
              (unsigned long long)o.seed, schedule.spec().c_str(), o.rtol, o.atol);
  std::printf("NLL(0)        %.6g ± %.3g   (numerical error %.2g)\n", s.nll_mean, s.nll_se,
              s.nll_err);
  if (opt.wkb)
    std::printf("WKB E[-c]     %.6g ± %.3g   (numerical error %.2g)   NLL(eta) ≈ NLL(0) + "
                "eta·E[-c]\n",
                s.wkb_mean, s.wkb_se, s.wkb_err);
  if (opt.wkb && s.n > 0)
    std::printf("  robust      median %.4g, 1%% trimmed mean %.4g, 95%% bootstrap [%.4g, %.4g]\n",
                wkb_robust.median, wkb_robust.trimmed_mean, wkb_robust.bootstrap.lo,
                wkb_robust.bootstrap.hi);
  std::printf("points        %d used, %d excluded\ntime          %.2f s\n", s.n, s.excluded,
              s.seconds);
  if (!with_eta) return;
  std::printf("\nNLL(eta) of the eta-sampler (%d paths/point, %d Heun steps; %d used, %d excluded, "
              "%.1f s)\n",
              eopt.paths, eopt.steps, es.n, es.excluded, es.seconds);
  std::printf("%8s %11s %9s %9s %9s %9s %11s %11s %11s\n", "eta", "NLL(eta)", "se", "mc_se",
              "bias", "err", "tangent", "dNLL med", "dNLL trim");
  for (const EtaCurvePoint& c : es.curve)
    std::printf("%8.4g %11.5g %9.2g %9.2g %9.2g %9.2g %11.5g %11.4g %11.4g\n", c.eta, c.mean, c.se,
                c.mc_se, c.bias, c.err, opt.wkb ? nll_first_order(s, c.eta) : NAN, c.delta.median,
                c.delta.trimmed_mean);
  std::printf("tangent = NLL(0) + eta·E[-c] (first order); dNLL = NLL(eta) - NLL(0) per point, "
              "median and 1%% trimmed mean\n");
}

}  // namespace

void add_nll_command(CLI::App& app) {
  auto options = std::make_shared<NllOptions>();
  CLI::App* cmd = app.add_subcommand(
      "nll", "NLL of the PF-ODE and the first-order WKB coefficient E[-c] of a score model");
  cmd->footer(kNllHelp);
  options->model.add_options(cmd);
  cmd->add_option("--data", options->data, "Data set of the evaluation points (see `data --help`)")
      ->required();
  options->n_option =
      cmd->add_option("--n", options->n, "Number of evaluation points (of a CSV: its first N)")
          ->capture_default_str()
          ->check(in_range(1, 10000000));
  cmd->add_option("--rtol", options->rtol, "Relative ODE tolerance")
      ->capture_default_str()
      ->check(positive());
  cmd->add_option("--atol", options->atol, "Absolute ODE tolerance")
      ->capture_default_str()
      ->check(positive());
  cmd->add_option("--seed", options->seed, "Seed of the evaluation points")->capture_default_str();
  cmd->add_option("--threads", options->threads, "Threads (0 = all)")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_option("--batch", options->batch, "Points per ODE system")
      ->capture_default_str()
      ->check(in_range(1, 100000));
  cmd->add_flag("--no-wkb", options->no_wkb, "NLL only (skip the WKB coefficient)");
  cmd->add_flag("--no-error", options->no_error,
                "Skip the numerical-error estimate (the rerun at tenfold tighter tolerances)");
  cmd->add_option("--eta", options->eta,
                  "Also NLL(eta) of the eta-sampler at these eta: A:B:K, a,b,c or one value");
  cmd->add_option("--paths", options->paths, "Importance-sampling paths per point and eta > 0")
      ->capture_default_str()
      ->check(in_range(2, 1000000));
  cmd->add_option("--eta-steps", options->eta_steps, "Stochastic Heun steps of NLL(eta)")
      ->capture_default_str()
      ->check(in_range(1, 1000000));
  cmd->add_option("--eta-error-points", options->eta_error_points,
                  "Points rerun at half the step for NLL(eta)'s err (-1 = all, 0 = none)")
      ->capture_default_str()
      ->check(in_range(-1, 100000000));
  cmd->add_option("--csv", options->csv,
                  "Per-point CSV: x,y,nll,c,c_err,nll_err,ok[,nll_eta_<eta>...]");
  cmd->add_flag("--json", options->json,
                "Print {nll:{mean,se,err}, wkb:{mean,se,err,median,trimmed_mean,ci95}, n, excluded,\n"
                "seconds, ...[, eta:{\"<eta>\":{mean,se,mc_se,bias,err,...}}]} as JSON");
  cmd->callback([options] { run_nll(*options); });
}

}  // namespace diffpath::cli
