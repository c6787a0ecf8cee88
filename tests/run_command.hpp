#pragma once
// Test helper: runs a shell command (the CLI as a separate process) and returns its stdout and
// exit code; stderr is discarded (run) or captured (run_capture). Include after doctest.h.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
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

/// What a command printed on stdout and stderr, and its exit code (-1: killed by a signal).
struct CommandResult {
  std::string out, err;
  int code = -1;
};

/// Runs a shell command with stdout and stderr captured separately (stderr through a temporary
/// file), under timeout(1): a command that hangs is killed after `timeout_s` seconds and
/// reports exit code 124.
inline CommandResult run_capture(const std::string& cmd, int timeout_s = 120) {
  char err_path[] = "/tmp/diffpath-stderr-XXXXXX";
  const int fd = mkstemp(err_path);
  REQUIRE(fd >= 0);
  close(fd);
  CommandResult r;
  const std::string shell = "timeout -k 5 " + std::to_string(timeout_s) + " sh -c '" + cmd +
                            "' 2>" + err_path;
  FILE* pipe = popen(shell.c_str(), "r");
  REQUIRE(pipe);
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) r.out.append(buf, n);
  const int status = pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (FILE* f = fopen(err_path, "rb")) {
    while (size_t n = fread(buf, 1, sizeof buf, f)) r.err.append(buf, n);
    fclose(f);
  }
  unlink(err_path);
  return r;
}
