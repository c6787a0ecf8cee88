#pragma once
// The W2²(η) sweep (DESIGN §1.8) of the current model against fresh data, on demand.
#include <memory>
#include <string>
#include <vector>

#include "diffpath/schedule.hpp"
#include "diffpath/score_model.hpp"
#include "diffpath/transport.hpp"
#include "latest_job.hpp"

namespace diffpath::gui {

struct W2Request {
  ScoreModelPtr model;
  Schedule schedule;
  std::string data_spec;
  W2SweepOptions options;
  uint64_t model_version = 0;
};

struct W2Result {
  std::vector<W2Point> points;
  uint64_t model_version = 0;
  int64_t step = 0;
};

using W2Job = LatestJob<W2Request, W2Result>;

std::unique_ptr<W2Job> make_w2_job();

}  // namespace diffpath::gui
