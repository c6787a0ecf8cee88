#pragma once
// Test helper: runs a shell command (the CLI as a separate process) and returns its stdout and
// exit code; stderr is discarded. Include after doctest.h.
#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <utility>

inline std::pair<std::string, int> run(const std::string& cmd) {
  std::string out;
  FILE* pipe = popen((cmd + " 2>/dev/null").c_str(), "r");
  REQUIRE(pipe);
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int status = pclose(pipe);
  return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}
