#include "eval_job.hpp"

#include "diffpath/ground_truth.hpp"

namespace diffpath::gui {

EvalRequest snapshot_eval_request(ScoreModelPtr model, const Schedule& schedule, const Points& x0,
                                  double rtol, uint64_t model_version, int64_t step) {
  EvalRequest r;
  r.model = std::move(model);
  r.schedule = schedule;
  r.x0 = x0;
  r.options.rtol = rtol;
  r.options.atol = rtol;
  r.options.error_estimate = false;
  r.options.threads = 1;
  r.model_version = model_version;
  r.step = step;
  return r;
}

std::unique_ptr<EvalJob> make_eval_job() {
  // L* depends only on the reference score (one per data set and schedule), not on the
  // snapshot: computed once per reference. Touched only by the job's worker thread.
  struct StarCache {
    ScoreModelPtr exact;
    LossEstimate star;
  };
  auto cache = std::make_shared<StarCache>();
  return std::make_unique<EvalJob>([cache](const EvalRequest& req, JobContext<EvalResult>& ctx) {
    if (!req.model) return;
    auto res = std::make_shared<EvalResult>();
    res->summary = evaluate_likelihood(*req.model, req.schedule, req.x0, req.options,
                                       ctx.cancel_flag(), [&](double f) { ctx.progress(f); });
    if (res->summary.cancelled) return;
    res->x0 = req.x0;
    res->model_version = req.model_version;
    res->step = req.step;
    res->reference = req.reference;
    if (req.exact && !ctx.cancelled()) {
      // Same seeds for every snapshot: the history shows the model change, not fresh noise.
      res->kl = action_kl_bound(*req.model, *req.exact, req.schedule, req.x0, req.kl_steps, 11, 1,
                                ctx.cancel_flag());
      if (res->kl->cancelled) return;
      if (cache->exact != req.exact) {
        const LossEstimate star =
            dsm_loss_estimate(*req.exact, req.schedule, req.kl_data, 32, 12, 1, ctx.cancel_flag());
        if (star.cancelled) return;  // not cached: the next request computes it whole
        cache->star = star;
        cache->exact = req.exact;
      }
      res->loss_star = cache->star;
      if (ctx.cancelled()) return;
    }
    if (req.gaussian_truth) {
      // 41 points on [0, 1]: the curve is smooth (moments follow linear ODEs in η).
      for (int i = 0; i <= 40; ++i) {
        const double eta = i / 40.0;
        res->exact_eta.push_back(eta);
        res->exact_nll.push_back(gaussian_nll(req.gaussian, req.schedule, eta));
      }
    }
    ctx.publish(std::move(res));
  }, /*nice=*/5);  // background: yields to the GUI and the interactive sampler
}

}  // namespace diffpath::gui
