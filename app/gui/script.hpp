#pragma once
// Scripted mode: a plain-text list of commands run inside the real GUI loop, one command per
// line, '#' starts a comment. Blocking commands (wait-*, train-steps, frames) keep the loop
// running until their condition holds, so a script sees exactly what a person would.
//
//   load-preset FILE            save-preset FILE
//   set eta X | schedule S | data SPEC | model mlp|exact|gaussian|checkpoint | seed N
//       | particles N | steps N | trail-every K | trail-color time|action | time T
//       | lr X | batch N | eps X | delta X | checkpoint FILE | eval-points N
//       | overlay none|score|density|density-delta|both | c-map c|delta
//   train-steps N               wait until N more training steps are done (starts training)
//   start-training | pause-training | reset-training
//   wait-sample                 wait for the full-resolution sample of the current settings
//   wait-eval                   wait for a new NLL/WKB evaluation of the current model
//   wait-nll-eta                wait for the full NLL(η) curve of every model (current or newer)
//   w2-sweep                    start a W2²(η) sweep;   wait-w2  waits for it
//   play                        animate the time scrubber from Tmax to Tmin
//   export-chart NAME PATH      NAME: loss | nll-step | nll-eta | w2 | action | c-map
//                               | delta-log-q;
//                               PATH ending in .png, .svg or .pdf
//   export-csv KIND PATH        KIND: trajectories | samples | nll | loss | eval-history | w2
//   export-viewport PATH        the viewport alone as PNG
//   export-animation KIND PATH [FRAMES]   KIND: time | eta | training; PATH .mp4, .webm or .gif: rendered
//                               in the background (wait-animation waits for it)
//   screenshot PATH             the whole window as PNG
//   frames N                    let N frames pass
//   timeout SECONDS             limit for each following wait (default 180)
//   compare add SCHED KIND [F]  add a model to compare (KIND: mlp | exact | checkpoint; F: file,
//                               default the shipped checkpoint), compare clear, compare remove K
//   view K                      the viewport shows model K (0 = main, k = k-th compared model)
//   wait-compare                wait until every compared model has an evaluation
//   expect-error CMD ARGS...    run a non-blocking command that must fail (bad input: the
//                               script goes on, the session must be unchanged)
//   quit
#include <string>
#include <vector>

namespace diffpath::gui {

struct ScriptCommand {
  int line = 0;
  std::string name;
  std::vector<std::string> args;
  std::string text() const;   // the command as written, for messages
};

/// Parses a script file; throws diffpath::Error naming the file and line of a bad command.
std::vector<ScriptCommand> parse_script(const std::string& path);

/// What a script can do to the app: implemented by the app, driven by ScriptRunner.
class ScriptHost {
 public:
  virtual ~ScriptHost() = default;
  /// Runs a non-blocking command; throws diffpath::Error on failure.
  virtual void run_command(const ScriptCommand& c) = 0;
  /// For blocking commands: true once the condition holds. `first` is true on the first poll.
  virtual bool poll_wait(const ScriptCommand& c, bool first) = 0;
};

/// Steps through the commands, one frame at a time.
class ScriptRunner {
 public:
  ScriptRunner(std::vector<ScriptCommand> commands, std::string name);
  /// Advances as far as possible this frame. Returns true while the script is not finished.
  bool step(ScriptHost& host, double now_seconds);
  bool finished() const { return done_; }
  /// 0 when every command succeeded; 1 after an error or a timed-out wait.
  int exit_code() const { return exit_code_; }
  const std::string& current() const { return current_; }

 private:
  std::vector<ScriptCommand> commands_;
  std::string name_;
  size_t next_ = 0;
  bool waiting_ = false;
  double wait_started_ = 0.0;
  double timeout_ = 180.0;
  bool done_ = false;
  int exit_code_ = 0;
  std::string current_;
};

/// True for commands that block (wait-*, train-steps, frames).
bool is_blocking(const std::string& name);

}  // namespace diffpath::gui
