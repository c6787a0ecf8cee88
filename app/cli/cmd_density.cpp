// diffpath-cli density: the η-model's density log q_t^η over the plane from its Fokker–Planck
// equation on a grid (DESIGN §1.10, core/include/diffpath/fokker_planck.hpp), written per
// (η, t) as a CSV grid and a PNG heatmap, and with --data the NLL(η) of data points read off
// the grid at Tmin — refused where the grid cannot resolve the model's density.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "cli_common.hpp"
#include "diffpath/dataset.hpp"
#include "diffpath/figure.hpp"
#include "diffpath/fokker_planck.hpp"
#include "diffpath/io.hpp"
#include "diffpath/stats.hpp"

namespace diffpath::cli {

namespace {

struct DensityOptions {
  ScoreArgs model;
  std::string etas = "0", times, out, data;
  int grid = 256, n = 1000, threads = 0;
  double extent = 0;   // 0 = from the data (see kDensityHelp)
  uint64_t seed = 1;
  double node_tol = 2e-4, min_width = 2.0;
  bool json = false, quiet = false, no_png = false;
};

constexpr const char* kDensityHelp =
    "Solves the eta-model's Fokker-Planck equation d_t q + div(F q) + (eta g^2/2) Lap q = 0,\n"
    "F = f x - (1+eta)/2 g^2 s, backwards from q(Tmax) = N(0, I) on a --grid^2 grid over\n"
    "[-L, L]^2 (finite volume + exact heat semigroup; the score is evaluated once per time node\n"
    "for all --eta values). 2D score models only.\n"
    "--extent L: default max(4, 1.25 max|x| of the --data points), at most 6; 4 without --data.\n"
    "--t LIST: output times in [Tmin, Tmax] (default Tmin). Files in --out DIR, per eta and t:\n"
    "  density_eta<E>_t<T>.csv  x,y,log_q (one row per cell centre, -inf where q = 0)\n"
    "  density_eta<E>_t<T>.png  heatmap of log q over [max - 12, max] (the app's colormap)\n"
    "--data NAME --n N --seed S: NLL(eta) = E[-log q_Tmin^eta(x0)] over the points (bilinear\n"
    "interpolation of log q), mean ± standard error over points. Refused (exit 1) when the\n"
    "model's width at Tmin, 1/sqrt(lambda_max(-grad s)), is below --min-width cells for more\n"
    "than 1 % of the mass: a finer --grid or a smaller --extent is needed then.\n"
    "--json: {eta: {\"0.1\": {mean, se}, ...}, grids: [...], mass errors, timings, ...}.";

std::vector<double> parse_list(const std::string& text, const std::string& what) {
  std::vector<double> v;
  if (text.find(':') != std::string::npos) {
    std::vector<std::string> parts;
    std::stringstream ss(text);
    for (std::string p; std::getline(ss, p, ':');) parts.push_back(p);
    if (parts.size() != 3) throw Error(what + ": expected A:B:K or a comma list, got '" + text + "'");
    const double a = parse_number(parts[0], what), b = parse_number(parts[1], what);
    const double k = parse_number(parts[2], what);
    if (k < 1 || k > 1000 || k != std::floor(k))
      throw Error(what + ": the count K in A:B:K must be an integer in [1, 1000]");
    for (int i = 0; i < int(k); ++i) v.push_back(k == 1 ? a : a + (b - a) * i / (k - 1));
  } else {
    std::stringstream ss(text);
    for (std::string p; std::getline(ss, p, ',');) v.push_back(parse_number(p, what));
  }
  if (v.empty()) throw Error(what + ": no values in '" + text + "'");
  return v;
}

std::string file_stem(double eta, double t) {
  return "density_eta" + format_number(eta) + "_t" + format_number(t);
}

void write_grid_csv(const std::string& path, const FokkerPlanckResult& r, const DensityGrid& g) {
  const int N = r.n;
  Eigen::MatrixXd rows(Eigen::Index(N) * N, 3);
  for (int j = 0; j < N; ++j)
    for (int i = 0; i < N; ++i) {
      const Eigen::Index k = Eigen::Index(j) * N + i;
      rows(k, 0) = r.cell_center(i);
      rows(k, 1) = r.cell_center(j);
      rows(k, 2) = g.log_q(i, j);
    }
  write_table_csv(path, {"x", "y", "log_q"}, rows);
}

void write_grid_png(const std::string& path, const FokkerPlanckResult& r, const DensityGrid& g,
                    const Points* data) {
  const int N = r.n;
  std::vector<double> cells(size_t(N) * N);
  double hi = -INFINITY;
  for (int j = 0; j < N; ++j)
    for (int i = 0; i < N; ++i) {
      const double v = g.log_q(i, j);
      cells[size_t(j) * N + i] = std::isfinite(v) ? v : NAN;
      if (std::isfinite(v)) hi = std::max(hi, v);
    }
  Figure fig;
  fig.title = "log q_t^η,  η = " + format_number(g.eta) + ",  t = " + format_number(g.t);
  fig.xlabel = "x";
  fig.ylabel = "y";
  fig.aspect_equal = true;
  fig.grid = false;
  fig.colorbar_label = "log q";
  Series hm = Series::heatmap(N, N, cells, -r.extent, r.extent, -r.extent, r.extent, Colormap::Magma);
  if (std::isfinite(hi)) {
    hm.vmin = hi - 12.0;  // the app's range: 12 nats below the peak
    hm.vmax = hi;
  }
  fig.series.push_back(std::move(hm));
  if (data) {
    std::vector<double> x(data->cols()), y(data->cols());
    for (Eigen::Index k = 0; k < data->cols(); ++k) x[k] = (*data)(0, k), y[k] = (*data)(1, k);
    Series sc = Series::scatter(x, y, "data");
    sc.color = Color::rgb(0x56B4E9, 0.8);
    sc.marker_radius = 1.2;
    fig.series.push_back(std::move(sc));
  }
  fig.legend = data ? LegendPlace::TopRight : LegendPlace::None;
  save_figure(fig, path, 720, 640);
}

void run_density(const DensityOptions& o) {
  const Schedule schedule = o.model.resolve_schedule();
  const ScoreModelPtr model = o.model.make_model(schedule);
  if (model->dim() != 2)
    throw Error("density: score model " + model->spec() + " has dimension " +
                std::to_string(model->dim()) + "; the grid solver is 2D");
  FokkerPlanckOptions opt;
  opt.grid = o.grid;
  opt.etas = parse_list(o.etas, "--eta");
  opt.times = o.times.empty() ? std::vector<double>{schedule.t_min} : parse_list(o.times, "--t");
  opt.node_tol = o.node_tol;
  opt.min_width_cells = o.min_width;
  opt.threads = o.threads;

  Dataset data;
  const bool with_data = !o.data.empty();
  if (with_data) {
    data = make_dataset(o.data, o.n, o.seed);
    if (data.dim() != 2)
      throw Error("data set " + o.data + " has dimension " + std::to_string(data.dim()) +
                  " but the grid solver is 2D");
  }
  opt.extent = o.extent;
  if (opt.extent <= 0) {
    opt.extent = 4.0;
    if (with_data) opt.extent = std::clamp(1.25 * data.points.cwiseAbs().maxCoeff(), 4.0, 6.0);
  }
  // Tmin is needed for the NLL.
  if (with_data && std::find(opt.times.begin(), opt.times.end(), schedule.t_min) == opt.times.end())
    opt.times.push_back(schedule.t_min);
  if (!o.out.empty()) std::filesystem::create_directories(o.out);

  ProgressBar bar("density", !o.quiet);
  const FokkerPlanckResult r = solve_fokker_planck(*model, schedule, opt, nullptr, [&](double f) {
    bar.update(f);
  });
  bar.finish();

  const int ne = int(r.etas.size()), nt = int(r.times.size());
  if (!o.out.empty())
    for (int e = 0; e < ne; ++e)
      for (int k = 0; k < nt; ++k) {
        const DensityGrid& g = r.grids[e][k];
        const std::string stem = (std::filesystem::path(o.out) / file_stem(g.eta, g.t)).string();
        write_grid_csv(stem + ".csv", r, g);
        if (!o.no_png) write_grid_png(stem + ".png", r, g, with_data && g.t == schedule.t_min ? &data.points : nullptr);
      }

  // Resolution and mass, per (η, t).
  nlohmann::json grids = nlohmann::json::array();
  for (int e = 0; e < ne; ++e)
    for (int k = 0; k < nt; ++k) {
      const DensityGrid& g = r.grids[e][k];
      grids.push_back({{"eta", g.eta},
                       {"t", g.t},
                       {"mass", g.mass},
                       {"resolved", g.resolved},
                       {"unresolved_mass", g.unresolved_mass},
                       {"width_q05", g.width_q05}});
    }

  // NLL(η) at Tmin.
  const int tmin_index = int(std::find(r.times.begin(), r.times.end(), schedule.t_min) - r.times.begin());
  nlohmann::json eta_json = nlohmann::json::object();
  std::vector<std::pair<double, MeanSe>> nll;
  int outside = 0;
  if (with_data) {
    if (!r.resolved(tmin_index)) {
      const DensityGrid& g = r.grids[0][tmin_index];
      throw Error("the grid does not resolve the model's density at Tmin: " +
                  format_number(std::round(1000 * g.unresolved_mass) / 10) +
                  " % of the mass sits where the model's width is below " +
                  format_number(o.min_width) + " cells (5 % quantile of the width " +
                  format_number(g.width_q05) + ", cell " + format_number(r.h) +
                  "); use a finer --grid or a smaller --extent");
    }
    for (int e = 0; e < ne; ++e) {
      std::vector<double> v;
      v.reserve(data.size());
      for (int p = 0; p < data.size(); ++p) {
        const double lq = r.log_density(e, tmin_index, data.points(0, p), data.points(1, p));
        if (std::isnan(lq)) {
          if (e == 0) ++outside;
          continue;
        }
        v.push_back(-lq);
      }
      const MeanSe m = mean_se(v);
      nll.emplace_back(r.etas[e], m);
      eta_json[format_number(r.etas[e])] = {{"mean", m.mean}, {"se", m.se}, {"n", m.n}};
    }
    if (outside > 0)
      std::fprintf(stderr, "warning: %d of %d points lie outside [-%g, %g]^2 and are left out\n",
                   outside, data.size(), r.extent, r.extent);
  }

  nlohmann::json reports = nlohmann::json::array();
  for (const EtaReport& rep : r.reports)
    reports.push_back({{"eta", rep.eta},
                       {"max_mass_error", rep.max_mass_error},
                       {"min_q", rep.min_q},
                       {"clipped_mass", rep.clipped_mass},
                       {"substeps", rep.substeps},
                       {"diffusion_steps", rep.diffusion_steps},
                       {"heat_fallbacks", rep.heat_fallbacks},
                       {"seconds", rep.seconds}});
  if (o.json) {
    nlohmann::json j = {{"score", model->spec()},
                        {"schedule", schedule.spec()},
                        {"grid", r.n},
                        {"extent", r.extent},
                        {"cell", r.h},
                        {"grids", grids},
                        {"solver", reports},
                        {"score_evaluations", r.score_evaluations},
                        {"prior_mass_outside", r.prior_mass_outside},
                        {"score_seconds", r.score_seconds},
                        {"seconds", r.seconds}};
    if (with_data) {
      j["eta"] = eta_json;
      j["data"] = data.spec;
      j["n"] = data.size();
      j["seed"] = o.seed;
      j["outside"] = outside;
    }
    print_json(j);
    return;
  }
  std::printf("score %s, schedule %s, grid %d^2 on [-%g, %g]^2 (cell %.4g)\n",
              model->spec().c_str(), schedule.spec().c_str(), r.n, r.extent, r.extent, r.h);
  std::printf("%d score evaluations (%.1f s), %.1f s in all\n", r.score_evaluations,
              r.score_seconds, r.seconds);
  for (const EtaReport& rep : r.reports)
    std::printf("eta %-6s %6ld substeps, %5ld diffusion steps, max |mass - 1| %.1e, %.1f s\n",
                format_number(rep.eta).c_str(), rep.substeps, rep.diffusion_steps,
                rep.max_mass_error, rep.seconds);
  for (int k = 0; k < nt; ++k)
    if (!r.resolved(k))
      std::printf("t %s: NOT RESOLVED (%.1f %% of the mass where the model's width < %g cells)\n",
                  format_number(r.times[k]).c_str(), 100 * r.grids[0][k].unresolved_mass, o.min_width);
  if (with_data) {
    std::printf("data %s (n = %d, seed %llu)\n", data.spec.c_str(), data.size(),
                (unsigned long long)o.seed);
    for (const auto& [eta, m] : nll)
      std::printf("NLL(eta = %s)  %.6g ± %.3g\n", format_number(eta).c_str(), m.mean, m.se);
  }
  if (!o.out.empty()) std::printf("grids written to %s\n", o.out.c_str());
}

}  // namespace

void add_density_command(CLI::App& app) {
  auto options = std::make_shared<DensityOptions>();
  CLI::App* cmd = app.add_subcommand(
      "density", "The eta-model's density log q_t on a 2D grid (Fokker-Planck), and NLL(eta) from it");
  cmd->footer(kDensityHelp);
  options->model.add_options(cmd);
  cmd->add_option("--eta", options->etas, "eta values: a comma list or A:B:K")->capture_default_str();
  cmd->add_option("--grid", options->grid, "Cells per side")
      ->capture_default_str()
      ->check(CLI::Range(8, 4096));
  cmd->add_option("--extent", options->extent, "Half-width L of the domain [-L, L]^2 (0 = auto)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--t", options->times, "Output times: a comma list or A:B:K (default Tmin)");
  cmd->add_option("--out", options->out, "Directory for the CSV grids and PNG heatmaps");
  cmd->add_option("--data", options->data, "Data set whose NLL(eta) to read off the grid at Tmin");
  cmd->add_option("--n", options->n, "Number of data points")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000000));
  cmd->add_option("--seed", options->seed, "Seed of the data points")->capture_default_str();
  cmd->add_option("--node-tol", options->node_tol,
                  "Score-interpolation displacement error per time node, in cells")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--min-width", options->min_width,
                  "Resolution threshold: the model's width at Tmin in cells")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", options->threads, "Threads (0 = all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--no-png", options->no_png, "Write the CSV grids only");
  cmd->add_flag("--quiet", options->quiet, "No progress bar");
  cmd->add_flag("--json", options->json, "Print the results as one JSON object");
  cmd->callback([options] {
    if (options->out.empty() && options->data.empty())
      throw Error("density: nothing to do: give --out DIR (grids) and/or --data NAME (NLL)");
    run_density(*options);
  });
}

}  // namespace diffpath::cli
