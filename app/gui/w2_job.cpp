#include "w2_job.hpp"

namespace diffpath::gui {

std::unique_ptr<W2Job> make_w2_job() {
  return std::make_unique<W2Job>([](const W2Request& req, JobContext<W2Result>& ctx) {
    if (!req.model) return;
    auto res = std::make_shared<W2Result>();
    try {
      res->points = w2_sweep(*req.model, req.schedule, req.data_spec, req.options,
                             ctx.cancel_flag(),
                             [&](double f, const std::string&) { ctx.progress(f); });
    } catch (const Error&) {
      if (ctx.cancelled()) return;  // w2_sweep reports cancellation by throwing
      throw;
    }
    res->model_version = req.model_version;
    ctx.publish(std::move(res));
  }, /*nice=*/5);  // background: yields to the GUI and the interactive sampler
}

}  // namespace diffpath::gui
