// libFuzzer entry point for the checkpoint loader (built with -DDIFFPATH_FUZZ=ON and clang; see
// README, "Fuzzing"). Aborts — a finding — when the loader breaks its contract.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "loader_contract.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/diffpath-fuzz-checkpoint-" + std::to_string(getpid());
  const std::string problem = fuzz::contract_violation(
      path, std::string_view(reinterpret_cast<const char*>(data), size), fuzz::load_checkpoint_model);
  if (!problem.empty()) {
    std::fprintf(stderr, "%s\n", problem.c_str());
    std::abort();
  }
  return 0;
}
