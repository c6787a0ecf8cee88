#include "animation_job.hpp"

namespace diffpath::gui {

std::unique_ptr<AnimationJob> make_animation_job() {
  return std::make_unique<AnimationJob>(
      [](const AnimationRequest& req, JobContext<AnimationResult>& ctx) {
        if (!req.model && !req.training) return;
        auto res = std::make_shared<AnimationResult>();
        res->path = req.path;
        auto progress = [&](double f) { ctx.progress(f); };
        res->report = req.training
                          ? write_training_animation(*req.training, req.caption, req.options, req.path,
                                                     ctx.cancel_flag(), progress)
                          : write_animation(*req.model, req.schedule, req.data, req.caption, req.options,
                                            req.path, ctx.cancel_flag(), progress);
        if (!res->report.cancelled) ctx.publish(std::move(res));
      },
      /*nice=*/5);
}

}  // namespace diffpath::gui
