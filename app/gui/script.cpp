#include "script.hpp"

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "diffpath/common.hpp"

namespace diffpath::gui {
namespace {

// Command name → allowed argument counts (min, max).
const std::map<std::string, std::pair<int, int>>& command_table() {
  static const std::map<std::string, std::pair<int, int>> t = {
      {"load-preset", {1, 1}},   {"save-preset", {1, 1}},    {"set", {2, 2}},
      {"train-steps", {1, 1}},   {"start-training", {0, 0}}, {"pause-training", {0, 0}},
      {"reset-training", {0, 0}}, {"wait-sample", {0, 0}},   {"wait-eval", {0, 0}},
      {"w2-sweep", {0, 0}},      {"wait-w2", {0, 0}},        {"play", {0, 0}},
      {"export-chart", {2, 2}},  {"export-csv", {2, 2}},     {"export-viewport", {1, 1}},
      {"screenshot", {1, 1}},    {"frames", {1, 1}},         {"timeout", {1, 1}},
      {"quit", {0, 0}},          {"compare", {1, 4}},        {"view", {1, 1}},
      {"wait-compare", {0, 0}},  {"wait-overlay", {0, 0}},    {"expect-error", {1, 8}},
      {"wait-nll-eta", {0, 0}},  {"export-animation", {2, 3}}, {"wait-animation", {0, 0}},
  };
  return t;
}

// Throws Error if `c` is not a known command with an allowed number of arguments.
void validate(const ScriptCommand& c, const std::string& where) {
  const auto it = command_table().find(c.name);
  if (it == command_table().end()) throw Error(where + ": unknown command '" + c.name + "'");
  const int n = int(c.args.size());
  if (n < it->second.first || n > it->second.second)
    throw Error(where + ": '" + c.name + "' takes " + std::to_string(it->second.first) +
                (it->second.first == it->second.second ? ""
                                                       : "–" + std::to_string(it->second.second)) +
                " argument(s)");
}

// The command `expect-error NAME ARGS...` wraps.
ScriptCommand inner_command(const ScriptCommand& c) {
  ScriptCommand inner;
  inner.line = c.line;
  inner.name = c.args[0];
  inner.args.assign(c.args.begin() + 1, c.args.end());
  return inner;
}

}  // namespace

std::string ScriptCommand::text() const {
  std::string s = name;
  for (const auto& a : args) s += " " + a;
  return s;
}

bool is_blocking(const std::string& name) {
  return name == "wait-sample" || name == "wait-eval" || name == "wait-w2" ||
         name == "train-steps" || name == "frames" || name == "wait-compare" ||
         name == "wait-overlay" || name == "wait-nll-eta" || name == "wait-animation";
}

std::vector<ScriptCommand> parse_script(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot open script " + path);
  std::vector<ScriptCommand> out;
  std::string line;
  for (int no = 1; std::getline(in, line); ++no) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream ss(line);
    ScriptCommand c;
    c.line = no;
    if (!(ss >> c.name)) continue;
    for (std::string w; ss >> w;) c.args.push_back(w);
    const std::string where = path + ":" + std::to_string(no);
    validate(c, where);
    if (c.name == "expect-error") {
      const ScriptCommand inner = inner_command(c);
      if (inner.name == "expect-error" || inner.name == "quit" || inner.name == "timeout" ||
          is_blocking(inner.name))
        throw Error(where + ": expect-error takes a non-blocking command, not '" + inner.name + "'");
      validate(inner, where);
    }
    out.push_back(std::move(c));
  }
  return out;
}

ScriptRunner::ScriptRunner(std::vector<ScriptCommand> commands, std::string name)
    : commands_(std::move(commands)), name_(std::move(name)) {}

// Commands whose output is the drawn window or viewport: they must see every earlier line
// drawn, and no later line may change the picture before it is captured.
static bool captures_frame(const std::string& name) {
  return name == "screenshot" || name == "export-viewport";
}

bool ScriptRunner::step(ScriptHost& host, double now) {
  bool changed_this_frame = false;   // a non-blocking command ran in this step
  while (!done_ && next_ < commands_.size()) {
    const ScriptCommand& c = commands_[next_];
    // Reproducible figures: a capture waits for the frame that draws the lines before it.
    if (captures_frame(c.name) && changed_this_frame) return true;
    current_ = c.text();
    const std::string where = name_ + ":" + std::to_string(c.line) + ": " + c.text();
    try {
      if (c.name == "quit") {
        done_ = true;
        break;
      }
      if (c.name == "timeout") {
        timeout_ = parse_number(c.args[0], "timeout");
        ++next_;
        continue;
      }
      if (is_blocking(c.name)) {
        const bool first = !waiting_;
        if (first) {
          waiting_ = true;
          wait_started_ = now;
          std::fprintf(stderr, "[script] %s\n", where.c_str());
        }
        if (!host.poll_wait(c, first)) {
          if (now - wait_started_ > timeout_)
            throw Error("timed out after " + std::to_string(int(timeout_)) + " s");
          return true;  // come back next frame
        }
        waiting_ = false;
        ++next_;
        continue;
      }
      std::fprintf(stderr, "[script] %s\n", where.c_str());
      if (c.name == "expect-error") {
        // Bad input must give a clear error and leave the session as it was.
        bool failed = false;
        try {
          host.run_command(inner_command(c));
        } catch (const std::exception& e) {
          failed = true;
          std::fprintf(stderr, "[script] expected error: %s\n", e.what());
        }
        if (!failed) throw Error("the command succeeded, an error was expected");
      } else {
        host.run_command(c);
      }
      ++next_;
      changed_this_frame = true;
      // The screenshot is taken after this frame is drawn: nothing after it may run first.
      if (c.name == "screenshot") return true;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "[script] error: %s: %s\n", where.c_str(), e.what());
      exit_code_ = 1;
      done_ = true;
    }
  }
  if (next_ >= commands_.size()) done_ = true;
  return !done_;
}

}  // namespace diffpath::gui
