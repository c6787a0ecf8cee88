#include "animation_job.hpp"

namespace diffpath::gui {

std::unique_ptr<AnimationJob> make_animation_job() {
  return std::make_unique<AnimationJob>(
      [](const AnimationRequest& req, JobContext<AnimationResult>& ctx) {
        if (!req.model) return;
        auto res = std::make_shared<AnimationResult>();
        res->path = req.path;
        res->report = write_animation(*req.model, req.schedule, req.data, req.caption, req.options,
                                      req.path, ctx.cancel_flag(), [&](double f) { ctx.progress(f); });
        if (!res->report.cancelled) ctx.publish(std::move(res));
      },
      /*nice=*/5);
}

}  // namespace diffpath::gui
