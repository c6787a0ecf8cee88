#include "sampling_job.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "diffpath/scene.hpp"

namespace diffpath::gui {
namespace {

std::shared_ptr<SampleView> run_pass(const SampleRequest& req, int n, bool coarse,
                                     JobContext<SampleView>& ctx) {
  SamplerOptions opt = req.options;
  opt.n = n;
  if (coarse) {
    // The preview: the first particles (same start points as the full pass) on a 4× coarser
    // time grid — ~1/30 of the full work at the defaults, so it lands within ~100 ms.
    opt.steps = std::max(20, req.options.steps / 4);
    opt.stride = std::max(1, req.options.stride / 4);
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto view = std::make_shared<SampleView>();
  view->result = sample(*req.model, req.schedule, opt, ctx.cancel_flag(), [&](double f) {
    ctx.progress(coarse ? 0.1 * f : 0.1 + 0.9 * f);
  });
  view->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  view->schedule = req.schedule;
  view->eta = opt.eta;
  view->seed = opt.seed;
  view->view_version = req.view_version;
  view->coarse = coarse;
  const auto range = action_color_range(view->result.action);  // the scene's colour range
  view->action_lo = range[0];
  view->action_hi = range[1];
  return view;
}

}  // namespace

std::unique_ptr<SamplingJob> make_sampling_job() {
  return std::make_unique<SamplingJob>([](const SampleRequest& req, JobContext<SampleView>& ctx) {
    if (!req.model) return;
    const int n = req.options.n;
    if (req.coarse_particles < n) {
      auto coarse = run_pass(req, req.coarse_particles, true, ctx);
      if (coarse->result.cancelled) return;
      ctx.publish(std::move(coarse));
    }
    auto full = run_pass(req, n, false, ctx);
    if (full->result.cancelled) return;
    ctx.publish(std::move(full));
  });
}

}  // namespace diffpath::gui
