// diffpath: the desktop app. Opens a window on the default experiment (or a preset), runs an
// optional script inside the real GUI loop, and can take a screenshot and quit (tests, CI).
#include <epoxy/gl.h>
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "app.hpp"
#include "bench_mode.hpp"
#include "gl_util.hpp"
#include "image_io.hpp"
#include "script.hpp"

namespace {

using namespace diffpath::gui;

struct Args {
  std::string script, screenshot, preset;
  int frames = 0;
  bool bench = false;
  bool paused = false;
  int width = 1600, height = 1000;
};

void print_help() {
  std::puts(
      "diffpath — live η, trajectories, actions, NLL curves and the WKB correction\n"
      "\n"
      "usage: diffpath [options]\n"
      "  --preset FILE        start from an experiment preset (JSON, see assets/presets/)\n"
      "  --script FILE        run a script of commands inside the GUI loop (see README)\n"
      "  --screenshot PNG     take a screenshot of the window after --frames N frames and quit\n"
      "  --frames N           frames to run before --screenshot (default 120)\n"
      "  --paused             do not start training on launch\n"
      "  --size WxH           window size (default 1600x1000)\n"
      "  --bench              measure frame time and η-change latency, print them, quit\n"
      "  --help               this text\n"
      "\n"
      "Environment: DIFFPATH_SHADERS=DIR overrides the shader directory.");
}

std::optional<Args> parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw diffpath::Error(k + " needs a value");
      return argv[++i];
    };
    if (k == "--help" || k == "-h") {
      print_help();
      return std::nullopt;
    } else if (k == "--script") a.script = value();
    else if (k == "--screenshot") a.screenshot = value();
    else if (k == "--preset") a.preset = value();
    else if (k == "--frames") a.frames = int(diffpath::parse_number(value(), "--frames"));
    else if (k == "--bench") a.bench = true;
    else if (k == "--paused") a.paused = true;
    else if (k == "--size") {
      const std::string v = value();
      if (std::sscanf(v.c_str(), "%dx%d", &a.width, &a.height) != 2 || a.width < 640 || a.height < 480)
        throw diffpath::Error("--size: expected WxH, at least 640x480");
    } else {
      throw diffpath::Error("unknown option '" + k + "' (see --help)");
    }
  }
  if (!a.screenshot.empty() && a.frames <= 0) a.frames = 120;
  return a;
}

// CPU time of the calling thread (the GUI thread's own work, excluding waits for the driver).
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return 1e3 * double(ts.tv_sec) + 1e-6 * double(ts.tv_nsec);
}

void glfw_error(int code, const char* msg) { std::fprintf(stderr, "diffpath: GLFW error %d: %s\n", code, msg); }

void style_imgui() {
  ImGui::StyleColorsDark();
  ImGuiStyle& s = ImGui::GetStyle();
  s.WindowRounding = 0.0f;
  s.FrameRounding = 3.0f;
  s.GrabRounding = 3.0f;
  s.WindowBorderSize = 1.0f;
  s.ItemSpacing = ImVec2(6, 5);
  // Slightly larger text than ImGui's 13 px bitmap font when a TrueType font is available.
  ImGuiIO& io = ImGui::GetIO();
  const char* fonts[] = {"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"};
  for (const char* f : fonts) {
    if (FILE* fp = std::fopen(f, "rb")) {
      std::fclose(fp);
      static const ImWchar ranges[] = {0x0020, 0x00FF, 0x0370, 0x03FF, 0x2010, 0x22FF, 0};
      io.Fonts->AddFontFromFileTTF(f, 15.0f, nullptr, ranges);
      return;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  std::vector<ScriptCommand> script;
  Experiment initial;
  try {
    auto parsed = parse_args(argc, argv);
    if (!parsed) return 0;
    args = *parsed;
    if (!args.preset.empty()) initial = load_preset(args.preset);
    if (!args.script.empty()) script = parse_script(args.script);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "diffpath: error: %s\n", e.what());
    return 1;
  }
  if (!args.screenshot.empty()) {
    script.push_back({0, "frames", {std::to_string(args.frames)}});
    script.push_back({0, "screenshot", {args.screenshot}});
    script.push_back({0, "frames", {"1"}});
    script.push_back({0, "quit", {}});
  }

  glfwSetErrorCallback(glfw_error);
  if (!glfwInit()) {
    std::fprintf(stderr, "diffpath: error: cannot initialise GLFW (is there a display? try xvfb-run)\n");
    return 1;
  }
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
  glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
  glfwWindowHint(GLFW_OPENGL_FORWARD_COMPAT, GLFW_TRUE);
  GLFWwindow* window = glfwCreateWindow(args.width, args.height, "diffpath", nullptr, nullptr);
  if (!window) {
    std::fprintf(stderr, "diffpath: error: cannot create an OpenGL 3.3 core window\n");
    glfwTerminate();
    return 1;
  }
  glfwMakeContextCurrent(window);
  glfwSwapInterval(1);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGui::GetIO().IniFilename = nullptr;  // a fixed layout: nothing to remember
  style_imgui();
  ImGui_ImplGlfw_InitForOpenGL(window, true);
  ImGui_ImplOpenGL3_Init("#version 330 core");

  int exit_code = 0;
  {
    const bool scripted = !script.empty();
    auto app = std::make_unique<App>(initial, !args.paused);
    app->init_graphics();
    std::optional<ScriptRunner> runner;
    if (scripted) runner.emplace(std::move(script), args.script.empty() ? "--screenshot" : args.script);
    std::unique_ptr<BenchMode> bench;
    if (args.bench) bench = std::make_unique<BenchMode>();

    auto last = std::chrono::steady_clock::now();
    while (!glfwWindowShouldClose(window)) {
      const auto frame_start = std::chrono::steady_clock::now();
      const double cpu_start = thread_cpu_ms();
      const double dt = std::chrono::duration<double>(frame_start - last).count();
      last = frame_start;
      glfwPollEvents();
      const double now = std::chrono::duration<double>(frame_start.time_since_epoch()).count();
      if (runner && !runner->finished()) runner->step(*app, now);

      ImGui_ImplOpenGL3_NewFrame();
      ImGui_ImplGlfw_NewFrame();
      ImGui::NewFrame();
      int fw = 0, fh = 0;
      glfwGetFramebufferSize(window, &fw, &fh);
      const auto ui_start = std::chrono::steady_clock::now();
      app->frame(fw, fh, dt);
      ImGui::Render();
      glBindFramebuffer(GL_FRAMEBUFFER, 0);
      glViewport(0, 0, fw, fh);
      glClearColor(0.06f, 0.06f, 0.07f, 1.0f);
      glClear(GL_COLOR_BUFFER_BIT);
      ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
      const auto render_end = std::chrono::steady_clock::now();

      if (std::string shot = app->take_screenshot_request(); !shot.empty()) {
        try {
          write_png_rgba(shot, read_framebuffer_rgba(fw, fh), fw, fh);
          app->set_status("wrote screenshot " + shot);
          std::fprintf(stderr, "[diffpath] wrote screenshot %s (%dx%d)\n", shot.c_str(), fw, fh);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "diffpath: error: %s\n", e.what());
          exit_code = 1;
        }
      }
      glfwSwapBuffers(window);
      if (bench) glFinish();  // charge the driver's deferred work (llvmpipe) to this frame
      const auto swap_end = std::chrono::steady_clock::now();

      auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
      FrameTiming timing;
      timing.total_ms = ms(frame_start, swap_end);
      timing.ui_ms = ms(ui_start, render_end);
      timing.swap_ms = ms(render_end, swap_end);
      timing.cpu_ms = thread_cpu_ms() - cpu_start;
      if (bench && !bench->step(*app, timing, now)) {
        exit_code = bench->exit_code();
        break;
      }
      if (runner && runner->finished()) {
        if (runner->exit_code() != 0) exit_code = runner->exit_code();
        break;
      }
      // Without vsync (Xvfb) cap at ~60 fps so the GUI thread leaves the cores to the workers.
      const auto elapsed = std::chrono::steady_clock::now() - frame_start;
      const auto budget = std::chrono::microseconds(16000);
      if (elapsed < budget) std::this_thread::sleep_for(budget - elapsed);
    }
    app.reset();  // joins the workers while the GL context is still current
  }

  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window);
  glfwTerminate();
  return exit_code;
}
