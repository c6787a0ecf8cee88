// Placeholder until this subcommand's owner fills it in.
#include "cli_common.hpp"

namespace diffpath::cli {
void add_data_command(CLI::App&) {}
}  // namespace diffpath::cli
