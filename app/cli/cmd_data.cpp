// diffpath-cli data: writes n points of a data set to a CSV file (header x,y; x in 1D).
#include <cstdio>

#include "cli_common.hpp"
#include "diffpath/dataset.hpp"
#include "diffpath/io.hpp"

namespace diffpath::cli {

namespace {

struct DataOptions {
  std::string data;
  int n = 3000;
  uint64_t seed = 0;
  std::string out;
  bool json = false;
};

constexpr const char* kDataHelp =
    "Data sets:\n"
    "  swissroll                 Swiss roll (DESIGN §2), scaled by 1/6.865\n"
    "  25gaussians               5×5 grid of Gaussians, sd 0.05, scaled by 1/2.828\n"
    "  8gaussians                8 Gaussians on a circle of radius 4, sd 0.5, scaled by 1/1.414\n"
    "  moons                     two interleaved half circles, noise 0.1, centred, unit mean variance\n"
    "  rings                     4 concentric circles (radii 3, 2.25, 1.5, 0.75), noise 0.08\n"
    "  checkerboard              8 squares of a checkerboard on [-4, 4]^2\n"
    "  gaussian1d:m=M,v=V        N(M, V) in 1D (defaults m=0, v=1)\n"
    "  gaussian:d=D,m=M,v=V      N(M·1, V·I) in D dimensions (defaults d=2, m=0, v=1)\n"
    "  csv:PATH                  points of a CSV file (1 or 2 numeric columns, header optional)";

void run_data(const DataOptions& o) {
  check_outputs({o.out});
  const Dataset data = make_dataset(o.data, o.n, o.seed);
  write_points_csv(o.out, data.points);
  if (o.json) {
    print_json({{"data", data.spec}, {"n", data.size()}, {"dim", data.dim()}, {"seed", o.seed},
                {"out", o.out}});
  } else {
    std::fprintf(stderr, "wrote %d points of %s (d = %d) to %s\n", data.size(), data.spec.c_str(),
                 data.dim(), o.out.c_str());
  }
}

}  // namespace

void add_data_command(CLI::App& app) {
  auto options = std::make_shared<DataOptions>();
  CLI::App* cmd = app.add_subcommand("data", "Write points of a data set to a CSV file");
  cmd->footer(kDataHelp);
  cmd->add_option("--data", options->data, "Data set name or spec (see below)")->required();
  cmd->add_option("--n", options->n, "Number of points (ignored for csv:PATH)")
      ->capture_default_str()
      ->check(in_range(1, 100000000));
  cmd->add_option("--seed", options->seed, "Random seed")->capture_default_str();
  cmd->add_option("--out", options->out, "Output CSV file (header x,y; x in 1D)")->required();
  cmd->add_flag("--json", options->json, "Print {data, n, dim, seed, out} as JSON on stdout");
  cmd->callback([options] { run_data(*options); });
}

}  // namespace diffpath::cli
