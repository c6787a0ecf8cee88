// `diffpath-cli animate`: the η-sampler as a video (MP4, WebM or GIF; core animation.hpp):
// the time flow at one η, or the η morph under common random numbers.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "cli_common.hpp"
#include "diffpath/animation.hpp"
#include "diffpath/dataset.hpp"
#include "diffpath/trainer.hpp"

namespace diffpath::cli {
namespace {

struct AnimateOptions {
  ScoreArgs model;
  std::string data = "swissroll";
  std::string kind = "time";
  std::string eta = "0.1";
  std::string size = "1280x720";
  std::string color = "time";
  std::string out;
  bool trails = true;
  double lr = 1e-3;
  AnimationOptions anim;
};

void parse_size(const std::string& text, VideoOptions& v) {
  int w = 0, h = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%dx%d%c", &w, &h, &tail) != 2)
    throw Error("--size: expected WIDTHxHEIGHT, e.g. 1280x720, not '" + text + "'");
  v.width = w;
  v.height = h;
}

AnimationKind parse_kind(const std::string& kind) {
  return kind == "eta" ? AnimationKind::Eta : kind == "training" ? AnimationKind::Training : AnimationKind::Time;
}

// The viewed model's name for the caption: a checkpoint by its file name (titles are short).
std::string model_name(const ScoreModel& model) {
  std::string name = model.spec();
  if (name.rfind("model:", 0) == 0) name = std::filesystem::path(name.substr(6)).filename().string();
  return name;
}

void run_animate(AnimateOptions o) {
  check_outputs({o.out});
  parse_size(o.size, o.anim.video);
  o.anim.kind = parse_kind(o.kind);
  o.anim.etas = parse_eta_list(o.eta);
  if (o.anim.kind != AnimationKind::Eta && o.anim.etas.size() != 1)
    throw Error("--kind " + o.kind + " takes one --eta, not a list (the list is for --kind eta)");
  if (o.anim.kind == AnimationKind::Eta && o.anim.etas.size() < 2)
    throw Error("--kind eta needs at least two values, e.g. --eta 0:1:120");
  const bool training = o.anim.kind == AnimationKind::Training;
  if (training != o.model.score.empty())
    throw Error(training ? "--kind training trains a fresh network on --data: no --score"
                         : "--kind " + o.kind + " needs --score");
  o.anim.style.trails = o.trails;
  o.anim.style.trail_color = o.color == "action" ? TrailColor::Action : TrailColor::Time;
  const Schedule schedule = o.model.resolve_schedule();
  ProgressBar bar("animate " + o.kind);
  StopSignals signals;  // Ctrl-C cancels: the partial file is removed, the command fails
  auto show = [&](double f) { bar.update(f); };
  AnimationReport r;
  if (training) {
    TrainConfig config;
    config.data_spec = o.data;
    config.n_data = o.model.spec.n_data;
    config.data_seed = o.model.spec.data_seed;
    config.schedule = schedule;
    config.lr = o.lr;
    config.seed = o.anim.seed;
    config.threads = o.anim.threads;
    const std::string caption = o.data + " · " + schedule.spec() + " · mlp (training)";
    r = write_training_animation(config, caption, o.anim, o.out, StopSignals::flag(), show);
  } else {
    const ScoreModelPtr model = o.model.make_model(schedule);
    const Points data = make_dataset(o.data, 2000, 12345).points;  // the reference under the particles
    const std::string caption = o.data + " · " + schedule.spec() + " · " + model_name(*model);
    r = write_animation(*model, schedule, data, caption, o.anim, o.out, StopSignals::flag(), show);
  }
  if (r.cancelled) throw Error("interrupted by " + StopSignals::name() + ": no file written");
  char extra[240];
  std::snprintf(extra, sizeof extra,
                "(%d frames, %d particles, %d steps in %.1f s: %ssampling %.1f s, rendering %.1f frames/s, "
                "encoding %.1f frames/s)",
                r.frames, o.anim.n, o.anim.steps, r.total_seconds,
                training ? ("training " + std::to_string(int(r.train_seconds + 0.5)) + " s, ").c_str() : "",
                r.sample_seconds, r.frames / std::max(1e-9, r.render_seconds),
                r.frames / std::max(1e-9, r.encode_seconds));
  bar.finish(extra);
  std::fprintf(stderr, "wrote %s\n", o.out.c_str());
}

}  // namespace

void add_animate_command(CLI::App& app) {
  auto o = std::make_shared<AnimateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "animate",
      "The eta-sampler as a video: --kind time (one eta, noise flowing to data), --kind eta "
      "(the eta morph at Tmin under common random numbers) or --kind training (the samples of a "
      "fresh network as it trains on --data). .mp4 (H.264), .webm (VP9) or .gif");
  o->model.add_options(cmd);
  cmd->get_option("--score")->required(false);  // not for --kind training
  cmd->add_option("--data", o->data, "Reference data drawn under the particles")->capture_default_str();
  cmd->add_option("--kind", o->kind, "time or eta")->capture_default_str()->check(CLI::IsMember({"time", "eta", "training"}));
  cmd->add_option("--eta", o->eta, "time: one eta; eta: a list or A:B:K (e.g. 0:1:120)")->capture_default_str();
  cmd->add_option("--n", o->anim.n, "Particles")->capture_default_str()->check(in_range(1, 1000000));
  cmd->add_option("--steps", o->anim.steps, "Sampler steps")->capture_default_str()->check(in_range(1, 100000));
  cmd->add_option("--train-steps", o->anim.train_steps, "training: Adam steps over the clip")
      ->capture_default_str()->check(in_range(1, 1e9));
  cmd->add_option("--lr", o->lr, "training: Adam learning rate")->capture_default_str()->check(positive());
  cmd->add_option("--frames", o->anim.frames, "time: frames over the clip (at most steps + 1); training: snapshots")
      ->capture_default_str()->check(in_range(2, 100000));
  cmd->add_option("--seed", o->anim.seed, "Seed (the same for every eta)")->capture_default_str();
  cmd->add_option("--fps", o->anim.video.fps, "Frames per second")->capture_default_str()->check(in_range(0.001, 240.0));
  cmd->add_option("--size", o->size, "WIDTHxHEIGHT (even for .mp4/.webm)")->capture_default_str();
  cmd->add_option("--quality", o->anim.video.quality, "CRF: lower is better")->capture_default_str()->check(in_range(0, 63));
  cmd->add_flag("--trails,!--no-trails", o->trails, "Draw every k-th path (default; --no-trails: particles only)");
  cmd->add_option("--trail-every", o->anim.style.trail_every, "Draw the path of every k-th particle")
      ->capture_default_str()->check(in_range(1, 1000000));
  cmd->add_option("--color", o->color, "Trails coloured by time (viridis) or by the path's action")
      ->capture_default_str()->check(CLI::IsMember({"time", "action"}));
  cmd->add_option("--threads", o->anim.threads, "Threads (0 = all cores)")->capture_default_str()->check(non_negative());
  cmd->add_option("--out", o->out, "Output: FILE.mp4, FILE.webm or FILE.gif")->required();
  cmd->callback([o] { run_animate(*o); });
}

}  // namespace diffpath::cli
