// libFuzzer entry point for one loader, chosen at compile time by FUZZ_LOADER (a function of
// loader_contract.hpp; tests/fuzz/CMakeLists.txt builds fuzz_csv and fuzz_checkpoint from this
// file). Built with -DDIFFPATH_FUZZ=ON and clang (README, "Fuzzing"). Aborts — a finding —
// when the loader breaks its contract.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "loader_contract.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/diffpath-fuzz-" + std::to_string(getpid());
  const std::string problem = fuzz::contract_violation(
      path, std::string_view(reinterpret_cast<const char*>(data), size), fuzz::FUZZ_LOADER);
  if (!problem.empty()) {
    std::fprintf(stderr, "%s\n", problem.c_str());
    std::abort();
  }
  return 0;
}
