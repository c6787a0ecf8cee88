// `diffpath-cli table`: the paper's table (DESIGN §2) side by side with ours — NLL of the
// PF-ODE and the first-order WKB coefficient E[−c] at ODE tolerances 1e-3 and 1e-5, for swiss
// roll and 25 Gaussians under the simple and cosine schedules — plus what the paper could not
// compute: the robust statistics of the heavy-tailed −c, and NLL(η) of the η-sampler itself at
// η = 0.1 and 1 (DESIGN §1.9).
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli_common.hpp"
#include "diffpath/checkpoint.hpp"
#include "diffpath/dataset.hpp"
#include "diffpath/likelihood.hpp"
#include "diffpath/stats.hpp"
#include "diffpath/trainer.hpp"

namespace diffpath::cli {
namespace {

struct PaperRow {
  const char* data;
  const char* schedule;
  double nll, nll_se, c3, c3_se, c5, c5_se;  // Hirono et al. 2024, Table 1 (DESIGN §2)
};
constexpr PaperRow kPaper[] = {
    {"swissroll", "simple", 1.39, 0.05, -0.31, 0.21, -0.44, 0.38},
    {"swissroll", "cosine", 1.42, 0.02, -1.59, 0.57, -3.27, 1.11},
    {"25gaussians", "simple", -1.22, 0.01, -3.64, 0.49, -3.61, 0.64},
    {"25gaussians", "cosine", -1.71, 0.02, -17.57, 5.56, -19.65, 17.46},
};

enum class Budget { Default, Quick, Paper };

struct TableOptions {
  bool quick = false, paper = false, retrain = false, json = false;
  int n = 0;                 // evaluation points (0: 1000, or 200 with --quick)
  int64_t steps = 0;         // training steps override
  uint64_t seed = 1;         // evaluation data seed (training data uses seed 0)
  int threads = 0;
  std::string protocol = "ours";  // "paper": the reference code's batch-dropping rule first
  std::string out_dir = "table-out";
  std::string assets_dir = DIFFPATH_ASSETS_DIR;
};

struct Measured {
  std::string model_source;
  int64_t train_steps = 0;
  LikelihoodSummary tol3, tol5;
  RobustSummary wkb5;            // robust statistics of −c at tolerance 1e-5
  EtaLikelihoodSummary eta;      // NLL(η) of the η-sampler at kEtas (DESIGN §1.9)
  int dropped_batches = 0;       // --protocol paper: batches of 10 its rule dropped
  int batches = 0;
};

// The η columns: NLL of the stochastic sampler itself at a small and at the full noise.
constexpr double kEtas[] = {0.1, 1.0};

int64_t training_steps(const TableOptions& o, int64_t steps_per_epoch) {
  if (o.steps > 0) return o.steps;
  if (o.paper) return 16000 * steps_per_epoch;  // the paper's 16000 epochs
  if (o.quick) return 3000;
  return 20000;
}

// The model for one row: a shipped checkpoint (default budget), else a cached or freshly
// trained one under out_dir/models (so an interrupted run never loses finished models).
std::shared_ptr<const Mlp> obtain_model(const PaperRow& row, const TableOptions& o,
                                        Measured& m) {
  const std::string name = std::string(row.data) + "-" + row.schedule;
  const std::string shipped = o.assets_dir + "/" + name + ".safetensors";
  if (!o.quick && !o.paper && o.steps == 0 && !o.retrain && std::filesystem::exists(shipped)) {
    const Checkpoint ck = load_checkpoint(shipped);
    const auto steps = ck.metadata.find("steps");
    m.model_source = shipped;
    m.train_steps = steps == ck.metadata.end() ? 0 : std::atoll(steps->second.c_str());
    return std::make_shared<const Mlp>(ck.params, "model:" + shipped);
  }
  TrainConfig config;
  config.data_spec = row.data;
  config.schedule = Schedule::parse(row.schedule);
  config.threads = o.threads;
  DsmTrainer trainer(config);
  const int64_t steps = training_steps(o, trainer.steps_per_epoch());
  const std::string cached =
      o.out_dir + "/models/" + name + "-" + std::to_string(steps) + ".safetensors";
  m.train_steps = steps;
  if (!o.retrain && std::filesystem::exists(cached)) {
    m.model_source = cached + " (cached)";
    return load_mlp_model(cached);
  }
  const double loss = run_training(trainer, steps, "train " + name);
  std::filesystem::create_directories(o.out_dir + "/models");
  save_checkpoint(cached, trainer.params(),
                  {{"schedule", config.schedule.spec()},
                   {"dataset", config.data_spec},
                   {"steps", std::to_string(steps)},
                   {"seed", std::to_string(config.seed)},
                   {"batch", std::to_string(config.batch)},
                   {"lr", std::to_string(config.lr)},
                   {"loss", std::to_string(loss)}});
  m.model_source = cached;
  return load_mlp_model(cached);
}

LikelihoodSummary evaluate(const Mlp& model, const Schedule& schedule, const Points& x0,
                           double tol, const TableOptions& o, const std::string& label) {
  LikelihoodOptions lo;
  lo.rtol = lo.atol = tol;
  lo.threads = o.threads;
  ProgressBar bar(label);
  auto s = evaluate_likelihood(model, schedule, x0, lo, nullptr,
                               [&](double f) { bar.update(f); });
  char extra[96];
  std::snprintf(extra, sizeof extra, "(%d points, %d excluded)", s.n, s.excluded);
  bar.finish(extra);
  return s;
}

EtaLikelihoodSummary evaluate_eta(const Mlp& model, const Schedule& schedule, const Points& x0,
                                  const TableOptions& o, const std::string& label) {
  EtaLikelihoodOptions eo;
  eo.etas.assign(std::begin(kEtas), std::end(kEtas));
  eo.threads = o.threads;
  ProgressBar bar(label);
  auto s = evaluate_likelihood_eta(model, schedule, x0, eo, nullptr,
                                   [&](double f) { bar.update(f); });
  bar.finish();
  return s;
}

// --protocol paper: the points the reference code's rule keeps (DESIGN §2), dropping whole
// batches of 10 whose paths leave (−5, 5).
Points paper_protocol_points(const Mlp& model, const Schedule& schedule, const Points& x0,
                             const TableOptions& o, const std::string& label, Measured& m) {
  PaperProtocolOptions po;
  po.threads = o.threads;
  ProgressBar bar(label);
  const PaperProtocolFilter f =
      paper_protocol_filter(model, schedule, x0, po, nullptr, [&](double v) { bar.update(v); });
  m.batches = f.batches;
  m.dropped_batches = int(f.dropped.size());
  char extra[96];
  std::snprintf(extra, sizeof extra, "(%d of %d batches dropped)", m.dropped_batches, f.batches);
  bar.finish(extra);
  for (size_t i = 0; i < f.dropped.size() && i < 3; ++i)
    std::fprintf(stderr, "  %s\n", f.dropped[i].c_str());
  if (f.dropped.size() > 3) std::fprintf(stderr, "  ... %zu more\n", f.dropped.size() - 3);
  if (f.kept_points() == 0) throw Error("table: the paper protocol dropped every batch");
  return kept_columns(x0, f.kept);
}

std::string pm(double mean, double se, int digits = 2) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f ± %.*f", digits, mean, digits, se);
  return buf;
}

std::string fixed2(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string pm_err(const LikelihoodSummary& s) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.2f ± %.2f [err %.2g]", s.wkb_mean, s.wkb_se, s.wkb_err);
  return buf;
}

void write_outputs(const std::vector<Measured>& rows, const TableOptions& o) {
  std::filesystem::create_directories(o.out_dir);
  const std::string stem = o.out_dir + (o.protocol == "paper" ? "/table-paper-protocol" : "/table");
  const std::string md_path = stem + ".md", csv_path = stem + ".csv";
  std::ofstream md(md_path), csv(csv_path);
  if (!md || !csv) throw Error("cannot write the table into '" + o.out_dir + "'");
  md << "| data | schedule | NLL (ours) | NLL (paper) | E[−c] tol 1e-3 (ours) | (paper) "
        "| E[−c] tol 1e-5 (ours) | (paper) | −c median | −c 1% trimmed | NLL η=0.1 | NLL η=1 "
        "| train steps | n | excluded (1e-3 / 1e-5) | dropped batches |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  csv << "data,schedule,nll,nll_se,nll_paper,nll_paper_se,wkb_1e-3,wkb_1e-3_se,wkb_1e-3_err,"
         "wkb_1e-3_paper,wkb_1e-3_paper_se,wkb_1e-5,wkb_1e-5_se,wkb_1e-5_err,wkb_1e-5_paper,"
         "wkb_1e-5_paper_se,wkb_1e-5_median,wkb_1e-5_trimmed_mean,nll_eta_0.1,nll_eta_0.1_se,"
         "nll_eta_0.1_mc_se,nll_eta_1,nll_eta_1_se,nll_eta_1_mc_se,train_steps,n,excluded_1e-3,"
         "excluded_1e-5,protocol,dropped_batches,batches,model\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const PaperRow& p = kPaper[i];
    const Measured& m = rows[i];
    md << "| " << p.data << " | " << p.schedule << " | " << pm(m.tol5.nll_mean, m.tol5.nll_se)
       << " | " << pm(p.nll, p.nll_se) << " | " << pm_err(m.tol3) << " | " << pm(p.c3, p.c3_se)
       << " | " << pm_err(m.tol5) << " | " << pm(p.c5, p.c5_se) << " | "
       << fixed2(m.wkb5.median) << " | " << fixed2(m.wkb5.trimmed_mean) << " | "
       << pm(m.eta.curve[0].mean, m.eta.curve[0].se) << " | "
       << pm(m.eta.curve[1].mean, m.eta.curve[1].se) << " | " << m.train_steps
       << " | " << m.tol5.n << " | " << m.tol3.excluded << " / " << m.tol5.excluded << " | "
       << (o.protocol == "paper" ? std::to_string(m.dropped_batches) + " of " +
                                       std::to_string(m.batches)
                                 : std::string("—"))
       << " |\n";
    const EtaCurvePoint &e1 = m.eta.curve[0], &e2 = m.eta.curve[1];
    char line[1024];
    std::snprintf(line, sizeof line,
                  "%s,%s,%.6g,%.6g,%g,%g,%.6g,%.6g,%.6g,%g,%g,%.6g,%.6g,%.6g,%g,%g,%.6g,%.6g,%.6g,"
                  "%.6g,%.6g,%.6g,%.6g,%.6g,%lld,%d,%d,%d,%s,%d,%d,%s\n",
                  p.data, p.schedule, m.tol5.nll_mean, m.tol5.nll_se, p.nll, p.nll_se,
                  m.tol3.wkb_mean, m.tol3.wkb_se, m.tol3.wkb_err, p.c3, p.c3_se, m.tol5.wkb_mean,
                  m.tol5.wkb_se, m.tol5.wkb_err, p.c5, p.c5_se, m.wkb5.median,
                  m.wkb5.trimmed_mean, e1.mean, e1.se, e1.mc_se, e2.mean, e2.se, e2.mc_se,
                  (long long)m.train_steps, m.tol5.n, m.tol3.excluded, m.tol5.excluded,
                  o.protocol.c_str(), m.dropped_batches, m.batches, m.model_source.c_str());
    csv << line;
  }
  if (!md || !csv) throw Error("writing the table into '" + o.out_dir + "' failed");
  std::fprintf(stderr, "table: wrote %s and %s\n", md_path.c_str(), csv_path.c_str());
}

nlohmann::json summary_json(const LikelihoodSummary& s) {
  return {{"nll", {{"mean", s.nll_mean}, {"se", s.nll_se}}},
          {"wkb", {{"mean", s.wkb_mean}, {"se", s.wkb_se}, {"err", s.wkb_err}}},
          {"n", s.n},
          {"excluded", s.excluded},
          {"seconds", s.seconds}};
}

void run_table(const TableOptions& o) {
  if (o.quick && o.paper) throw Error("--quick and --paper exclude each other");
  const int n = o.n > 0 ? o.n : (o.quick ? 200 : 1000);
  std::vector<Measured> rows;
  nlohmann::json out = nlohmann::json::array();
  for (const PaperRow& row : kPaper) {
    Measured m;
    const auto model = obtain_model(row, o, m);
    const Schedule schedule = Schedule::parse(row.schedule);
    // Fresh evaluation points: a different seed from the training set (data seed 0).
    Points x0 = make_dataset(row.data, n, o.seed).points;
    const std::string name = std::string(row.data) + "/" + row.schedule;
    if (o.protocol == "paper")
      x0 = paper_protocol_points(*model, schedule, x0, o, "paper rule " + name, m);
    m.tol3 = evaluate(*model, schedule, x0, 1e-3, o, "nll+wkb " + name + " tol 1e-3");
    m.tol5 = evaluate(*model, schedule, x0, 1e-5, o, "nll+wkb " + name + " tol 1e-5");
    m.wkb5 = wkb_robust_summary(m.tol5);
    m.eta = evaluate_eta(*model, schedule, x0, o, "nll(eta) " + name);
    nlohmann::json eta = nlohmann::json::object();
    for (const EtaCurvePoint& c : m.eta.curve)
      eta[format_number(c.eta)] = {{"mean", c.mean}, {"se", c.se}, {"mc_se", c.mc_se},
                                   {"bias", c.bias}, {"err", c.err}};
    out.push_back({{"data", row.data},
                   {"schedule", row.schedule},
                   {"model", m.model_source},
                   {"train_steps", m.train_steps},
                   {"tol_1e-3", summary_json(m.tol3)},
                   {"tol_1e-5", summary_json(m.tol5)},
                   {"wkb_1e-5_robust",
                    {{"median", m.wkb5.median}, {"trimmed_mean", m.wkb5.trimmed_mean}}},
                   {"eta", eta},
                   {"protocol", o.protocol},
                   {"dropped_batches", m.dropped_batches},
                   {"paper",
                    {{"nll", {row.nll, row.nll_se}},
                     {"wkb_1e-3", {row.c3, row.c3_se}},
                     {"wkb_1e-5", {row.c5, row.c5_se}}}}});
    rows.push_back(std::move(m));
  }
  write_outputs(rows, o);
  if (o.json) {
    print_json({{"rows", out}, {"n", n}});
    return;
  }
  std::ifstream md(o.out_dir + (o.protocol == "paper" ? "/table-paper-protocol.md" : "/table.md"));
  std::cout << md.rdbuf();
}

}  // namespace

void add_table_command(CLI::App& app) {
  auto o = std::make_shared<TableOptions>();
  CLI::App* sub = app.add_subcommand(
      "table",
      "Reproduce the paper's table: NLL(0) and the WKB coefficient E[-c] at ODE tolerances "
      "1e-3 and 1e-5 for swiss roll / 25 Gaussians x simple / cosine, next to the paper's "
      "values. Models: the checkpoints shipped in assets/ by default (trained here if "
      "missing), --quick trains small ones in minutes, --paper uses the paper's 16000 epochs. "
      "Writes table.md and table.csv. --protocol paper applies the reference code's "
      "batch-dropping rule first.");
  sub->add_flag("--quick", o->quick, "Train 3000 steps per model and evaluate 200 points");
  sub->add_flag("--paper", o->paper, "Train with the paper's budget (16000 epochs, batch 512)");
  sub->add_flag("--retrain", o->retrain, "Ignore shipped and cached checkpoints");
  sub->add_option("--n", o->n, "Evaluation points per row (default 1000, 200 with --quick)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--steps", o->steps, "Training steps per model (overrides the budget)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--seed", o->seed, "Seed of the evaluation data (training uses seed 0)");
  sub->add_option("--threads", o->threads, "Worker threads (0 = all cores)");
  sub->add_option("--out-dir", o->out_dir, "Where table.md, table.csv and trained models go");
  sub->add_option("--assets", o->assets_dir, "Directory of shipped checkpoints");
  sub->add_option("--protocol", o->protocol,
                  "ours: every point, failed solves excluded one by one; paper: the reference "
                  "code's rule first, dropping each batch of 10 points whose PF paths (or the "
                  "inner paths from x_t +- 0.01 its finite differences use) leave (-5, 5) "
                  "(writes table-paper-protocol.md/.csv)")
      ->check(CLI::IsMember({"ours", "paper"}));
  sub->add_flag("--json", o->json, "Print the results as one JSON object");
  sub->callback([o] { run_table(*o); });
}

}  // namespace diffpath::cli
