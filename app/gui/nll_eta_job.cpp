#include "nll_eta_job.hpp"

#include <vector>

namespace diffpath::gui {

namespace {

// The η grid of both passes.
const std::vector<double> kEtaGrid = {0.0, 0.05, 0.1, 0.2, 0.5, 1.0};

// The quick pass: the whole grid at a quarter of the steps, no half-step rerun — 128 points ×
// 6 η in 1.6 s on one thread, ~0.9 s on two (bench_likelihood_eta, 128/8/64/1); its step
// error at η = 1 is several 0.01 nats, so it is labelled "coarse" until the full pass
// replaces it.
EtaLikelihoodOptions coarse_options() {
  EtaLikelihoodOptions o;
  o.etas = kEtaGrid;
  o.steps = 64;
  o.error_points = 0;
  return o;
}

// The full pass: the estimator's defaults (own error ≤ 0.01 nats on the shipped networks),
// the time-step error from a half-step rerun of 16 points: 8.1 s on one thread, 4.6 s on two
// (bench_likelihood_eta, 128/0/0/1 and 128/0/0/2).
EtaLikelihoodOptions full_options() {
  EtaLikelihoodOptions o;
  o.etas = kEtaGrid;
  o.error_points = 16;
  return o;
}

}  // namespace

std::unique_ptr<NllEtaJob> make_nll_eta_job() {
  return std::make_unique<NllEtaJob>([](const NllEtaRequest& req, JobContext<NllEtaResult>& ctx) {
    if (!req.model) return;
    for (const bool coarse : {true, false}) {
      if (coarse && !req.coarse_first) continue;
      EtaLikelihoodOptions o = coarse ? coarse_options() : full_options();
      // Both cores: the job runs at nice 5, so the interactive sampler still gets its core first.
      o.threads = 2;
      o.seed = 17;     // same Brownian paths for every snapshot: the curve shows the model change
      auto res = std::make_shared<NllEtaResult>();
      res->summary = evaluate_likelihood_eta(*req.model, req.schedule, req.x0, o, ctx.cancel_flag(),
                                             [&](double f) { ctx.progress(coarse ? 0.2 * f : 0.2 + 0.8 * f); });
      if (res->summary.cancelled || ctx.cancelled()) return;
      res->x0 = req.x0;
      res->model_version = req.model_version;
      res->coarse = coarse;
      ctx.publish(std::move(res));
    }
  }, /*nice=*/5);
}

}  // namespace diffpath::gui
