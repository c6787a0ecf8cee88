// diffpath-cli kl: the path-integral KL term of a score model (DESIGN §1.4),
//   E_P[Ã_θ − Ã] = ∫ g²/2 E_{p_t}‖s_θ − ∇log p_t‖² dt,
// computed both ways on data paths, and the DSM loss decomposition L(θ) = L* + 2/ΔT · KL that
// puts it on the axis of the training loss.
#include <chrono>
#include <cmath>
#include <cstdio>

#include "cli_common.hpp"
#include "diffpath/action.hpp"
#include "diffpath/dataset.hpp"
#include "diffpath/rng.hpp"
#include "diffpath/score_model.hpp"

namespace diffpath::cli {

namespace {

struct KlOptions {
  ScoreArgs model;
  std::string data;
  int n = 1000, steps = 1000, per_time = 64, threads = 0;
  uint64_t seed = 1;
  bool json = false;
};

constexpr const char* kKlHelp =
    "The reference ∇log p_t is the exact score of the data's distribution: the mixture itself\n"
    "for 25gaussians, 8gaussians and gaussian:..., else the empirical distribution of the\n"
    "training set (--n-data points drawn with --data-seed, what `train` fits). Data paths start\n"
    "at --n points of that distribution (fresh draws with --seed, or training points drawn\n"
    "with replacement) and follow the forward SDE exactly on a uniform grid of --steps steps.\n"
    "Output:\n"
    "  KL by actions       E_P[Ã_θ − Ã], the Onsager–Machlup action difference of the paths\n"
    "                      (Euler–Maruyama discretization: first-order bias in the step)\n"
    "  KL by loss formula  ∫ g²/2 E‖s_θ − ∇log p_t‖² dt (trapezoid rule on the same grid)\n"
    "  L(θ), L*            the DSM training loss of the model and of the exact score\n"
    "                      (--per-time draws at each of the 1000 training times), with\n"
    "                      L(θ) − L* ≈ 2/(Tmax − Tmin) · KL.\n"
    "D_KL(p0‖q0) ≤ D_KL(p_T‖q_T) + KL: the term the network's training controls.";

void run_kl(const KlOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  const Schedule schedule = o.model.resolve_schedule();
  const ScoreModelPtr model = o.model.make_model(schedule);
  const ScoreModelPtr exact = make_score_model("exact:" + o.data, schedule, o.model.spec);
  if (exact->dim() != model->dim())
    throw Error("data set " + o.data + " has dimension " + std::to_string(exact->dim()) +
                " but score model " + model->spec() + " has dimension " +
                std::to_string(model->dim()));
  // Points of the distribution `exact` is the score of.
  const bool mixture = dataset_mixture(o.data).has_value();
  Points x0;
  if (mixture) {
    x0 = make_dataset(o.data, o.n, o.seed).points;
  } else {
    const Points train = make_dataset(o.data, o.model.spec.n_data, o.model.spec.data_seed).points;
    x0.resize(train.rows(), o.n);
    Rng rng(stream_seed(o.seed, 0, 3));
    for (int i = 0; i < o.n; ++i)
      x0.col(i) = train.col(std::min<int>(int(train.cols()) - 1, int(rng.uniform() * train.cols())));
  }

  ProgressBar bar("kl");
  const ActionKl kl = action_kl_bound(*model, *exact, schedule, x0, o.steps, o.seed, o.threads);
  bar.update(0.7);
  // Same seed for both losses: common draws, so their difference is far less noisy than either.
  const LossEstimate loss_model = dsm_loss_estimate(*model, schedule, x0, o.per_time, o.seed, o.threads);
  const LossEstimate loss_star = dsm_loss_estimate(*exact, schedule, x0, o.per_time, o.seed, o.threads);
  bar.finish();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (o.json) {
    print_json({{"kl",
                 {{"actions", {{"mean", kl.by_actions}, {"se", kl.by_actions_se}}},
                  {"loss_formula", {{"mean", kl.by_loss}, {"se", kl.by_loss_se}}}}},
                {"loss", {{"model", {{"mean", loss_model.mean}, {"se", loss_model.se}}},
                          {"exact", {{"mean", loss_star.mean}, {"se", loss_star.se}}}}},
                {"paths", kl.paths},
                {"steps", kl.steps},
                {"seconds", seconds},
                {"score", model->spec()},
                {"reference", exact->spec()},
                {"schedule", schedule.spec()},
                {"seed", o.seed}});
    return;
  }
  std::printf("score %s vs %s, schedule %s, %d data paths of %d steps\n", model->spec().c_str(),
              exact->spec().c_str(), schedule.spec().c_str(), kl.paths, kl.steps);
  std::printf("KL by actions       %.6g ± %.3g   E_P[Ã_θ − Ã]\n", kl.by_actions, kl.by_actions_se);
  std::printf("KL by loss formula  %.6g ± %.3g   ∫ g²/2 E‖s_θ − ∇log p_t‖² dt\n", kl.by_loss,
              kl.by_loss_se);
  std::printf("DSM loss L(θ)       %.6g ± %.3g\n", loss_model.mean, loss_model.se);
  std::printf("exact score L*      %.6g ± %.3g\n", loss_star.mean, loss_star.se);
  std::printf("L(θ) − L*           %.6g   (2/ΔT · KL by loss formula: %.6g)\n",
              loss_model.mean - loss_star.mean, kl_in_loss_units(schedule, kl.by_loss));
  std::printf("time                %.2f s\n", seconds);
}

}  // namespace

void add_kl_command(CLI::App& app) {
  auto options = std::make_shared<KlOptions>();
  CLI::App* cmd = app.add_subcommand(
      "kl", "The path-integral KL term E_P[Ã_θ − Ã] of a score model, by actions and by the loss");
  cmd->footer(kKlHelp);
  options->model.add_options(cmd);
  cmd->add_option("--data", options->data, "Data set whose distribution is the reference")
      ->required();
  cmd->add_option("--n", options->n, "Number of data paths")
      ->capture_default_str()
      ->check(in_range(2, 10000000));
  cmd->add_option("--steps", options->steps, "Steps of the path grid")
      ->capture_default_str()
      ->check(in_range(1, 1000000));
  cmd->add_option("--per-time", options->per_time, "Loss draws at each of the 1000 training times")
      ->capture_default_str()
      ->check(in_range(2, 100000));
  cmd->add_option("--seed", options->seed, "Seed of the paths and the loss draws")->capture_default_str();
  cmd->add_option("--threads", options->threads, "Threads (0 = all)")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_flag("--json", options->json,
                "Print {kl:{actions,loss_formula}, loss:{model,exact}, paths, steps, ...} as JSON");
  cmd->callback([options] { run_kl(*options); });
}

}  // namespace diffpath::cli
