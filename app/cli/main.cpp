// diffpath-cli: the headless front end of diffpath_core. Every numeric result the desktop app
// shows can be produced, and exported, from here.
#include <cstdio>
#include <exception>

#include "cli_common.hpp"
#include "diffpath/common.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "diffpath-cli: the path-integral view of score-based diffusion models, headless.\n"
      "Data sets, η-interpolated sampling, actions, likelihoods and the WKB correction."};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every subcommand");
  using namespace diffpath::cli;
  add_data_command(app);
  add_sample_command(app);
  add_gaussian_truth_command(app);
  add_train_command(app);
  add_score_command(app);
  add_nll_command(app);
  add_w2_command(app);
  add_kl_command(app);
  add_table_command(app);
  add_density_command(app);
  add_animate_command(app);
  check_seed_options(app);
  try {
    app.parse(argc, argv);  // subcommand callbacks run inside parse
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "diffpath-cli: error: %s (see --help)\n", e.what());
    return e.get_exit_code() ? e.get_exit_code() : 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "diffpath-cli: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
