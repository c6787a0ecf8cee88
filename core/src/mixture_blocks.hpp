#pragma once
// The equal-variance fast path of MixtureScore (mixture_blocks.cpp). Internal to the core.
#include <memory>
#include <string>

#include "diffpath/common.hpp"
#include "diffpath/dataset.hpp"
#include "diffpath/schedule.hpp"
#include "diffpath/score_model.hpp"

namespace diffpath::detail {

/// The block layout of a mixture whose positive-weight components share one variance; null
/// if they do not (exact comparison: any difference selects the general path).
std::shared_ptr<const MixtureBlocks> build_blocks(const GaussianMixture& g);

/// MixtureScore::score and ::jet on the fast path; non-finite points get NaN. `spec` names
/// the model in errors.
void equal_variance_score(const MixtureBlocks& blocks, const Schedule& schedule, double t,
                          const std::string& spec, const Points& x, Points& out);
void equal_variance_jet(const MixtureBlocks& blocks, const Schedule& schedule, double t,
                        const std::string& spec, const Points& x, int order, ScoreJet& out);

}  // namespace diffpath::detail
