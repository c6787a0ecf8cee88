// diffpath-cli gaussian-truth: the closed-form NLL(η) of Gaussian data under a linear score
// with deliberate errors, and its exact slope at η = 0 (DESIGN §1.7).
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "cli_common.hpp"
#include "diffpath/ground_truth.hpp"
#include "diffpath/schedule.hpp"

namespace diffpath::cli {

namespace {

struct TruthOptions {
  GaussianScoreParams params;
  std::string schedule = "simple";
  std::string etas = "0,0.1,0.2,0.5,1";
  bool json = false;
};

/// "0, 0.1,1e-2" → {("0", 0), ("0.1", 0.1), ("1e-2", 0.01)}: each value with the text the
/// user typed, which becomes its JSON key.
std::vector<std::pair<std::string, double>> parse_eta_list(const std::string& text) {
  std::vector<std::pair<std::string, double>> out;
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find(',', begin);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(begin, end - begin);
    const size_t a = item.find_first_not_of(" \t"), b = item.find_last_not_of(" \t");
    item = a == std::string::npos ? "" : item.substr(a, b - a + 1);
    if (item.empty()) throw Error("--eta: empty entry in list '" + text + "'");
    const double eta = parse_number(item, "--eta entry");
    if (eta < 0 || eta > 1) throw Error("--eta: " + item + " is outside [0, 1]");
    out.emplace_back(item, eta);
    begin = end + 1;
  }
  return out;
}

void run_truth(const TruthOptions& o) {
  const Schedule schedule = Schedule::parse(o.schedule);
  const auto etas = parse_eta_list(o.etas);
  const GaussianScoreParams& p = o.params;
  const double slope = gaussian_nll_slope(p, schedule);
  if (o.json) {
    nlohmann::json nll = nlohmann::json::object(), mean = nlohmann::json::object(),
                   var = nlohmann::json::object();
    for (const auto& [key, eta] : etas) {
      const GaussianFinal q = gaussian_final(p, schedule, eta);
      nll[key] = gaussian_nll(p, schedule, eta);
      mean[key] = q.moments.mean;
      var[key] = q.moments.var;
    }
    print_json({{"nll", nll},
                {"slope", slope},
                {"final_mean", mean},
                {"final_var", var},
                {"params", {{"d", p.d}, {"m", p.m}, {"v", p.v}, {"eps", p.eps}, {"delta", p.delta}}},
                {"schedule", schedule.spec()}});
    return;
  }
  std::printf("Gaussian data N(%g, %g I), d = %d; score error eps = %g, delta = %g; schedule %s\n",
              p.m, p.v, p.d, p.eps, p.delta, schedule.spec().c_str());
  std::printf("%-10s %-20s %-20s %-20s\n", "eta", "NLL", "model mean", "model variance");
  for (const auto& [key, eta] : etas) {
    const GaussianFinal q = gaussian_final(p, schedule, eta);
    std::printf("%-10s %-20.12g %-20.12g %-20.12g\n", key.c_str(), gaussian_nll(p, schedule, eta),
                q.moments.mean, q.moments.var);
  }
  std::printf("dNLL/deta at eta = 0: %.12g\n", slope);
}

}  // namespace

void add_gaussian_truth_command(CLI::App& app) {
  auto o = std::make_shared<TruthOptions>();
  CLI::App* cmd = app.add_subcommand(
      "gaussian-truth", "Closed-form NLL(eta) and its slope for Gaussian data and a linear score");
  cmd->footer(
      "Data N(m, v I) in d dimensions; model score s = -(x - a)/b with a = alpha m + delta,\n"
      "b = (1 + eps)(alpha^2 v + sigma^2). The eta-model stays Gaussian; its mean and variance\n"
      "ODEs (and their eta-sensitivities, for the exact slope) are integrated at rtol 1e-12.");
  cmd->add_option("--m", o->params.m, "Data mean")->capture_default_str();
  cmd->add_option("--v", o->params.v, "Data variance")->capture_default_str();
  cmd->add_option("--eps", o->params.eps, "Relative variance error of the score (> -1)")
      ->capture_default_str();
  cmd->add_option("--delta", o->params.delta, "Mean error of the score")->capture_default_str();
  cmd->add_option("--d", o->params.d, "Dimension")
      ->capture_default_str()
      ->check(in_range(1, 1000000));
  cmd->add_option("--schedule", o->schedule, "Noise schedule")->capture_default_str();
  cmd->add_option("--eta", o->etas, "Comma-separated eta values in [0, 1]")->capture_default_str();
  cmd->add_flag("--json", o->json, "Print {\"nll\": {eta: value}, \"slope\": ...} as JSON");
  cmd->callback([o] { run_truth(*o); });
}

}  // namespace diffpath::cli
