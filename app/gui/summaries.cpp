#include "summaries.hpp"

#include <cmath>
#include <vector>

#include "diffpath/action.hpp"
#include "diffpath/stats.hpp"

namespace diffpath::gui {

ValueSe nll_first_order_band(const LikelihoodSummary& s, double eta) {
  std::vector<double> y;
  y.reserve(s.points.size());
  for (const PointLikelihood& p : s.points)
    if (p.ok && std::isfinite(p.nll) && std::isfinite(p.c)) y.push_back(p.nll - eta * p.c);
  const MeanSe m = mean_se(y);
  // The line itself is the core's; the per-point spread only gives its error.
  ValueSe out{nll_first_order(s, eta), m.se};
  if (!std::isfinite(out.se)) out.se = std::hypot(s.nll_se, eta * s.wkb_se);
  return out;
}

ValueSe loss_from_kl(double loss_star, double loss_star_se, double kl, double kl_se,
                     const Schedule& schedule) {
  return {loss_star + kl_in_loss_units(schedule, kl),
          std::hypot(loss_star_se, kl_in_loss_units(schedule, kl_se))};
}

}  // namespace diffpath::gui
