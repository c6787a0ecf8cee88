#pragma once
// The numbers the charts plot that are more than a copy of a result: each decided here, once,
// away from any drawing code (the charts only lay them out).
#include "diffpath/likelihood.hpp"
#include "diffpath/schedule.hpp"

namespace diffpath::gui {

struct ValueSe {
  double value = 0.0, se = 0.0;
};

/// The first-order NLL(η) ≈ NLL(0) + η E[−c] with its standard error. The error is that of the
/// mean of the per-point values nll_i − η c_i, so the correlation of NLL(0) and c over the
/// points is accounted for (the hypot of the two standard errors would ignore it).
ValueSe nll_first_order_band(const LikelihoodSummary& s, double eta);

/// The path-integral KL term in training-loss units: the DSM loss is L = L* + 2/(Tmax − Tmin)·KL
/// (action.hpp: kl_in_loss_units), standard errors combined as independent.
ValueSe loss_from_kl(double loss_star, double loss_star_se, double kl, double kl_se,
                     const Schedule& schedule);

}  // namespace diffpath::gui
