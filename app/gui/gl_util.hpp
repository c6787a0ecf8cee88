#pragma once
// Small OpenGL helpers: shader programs loaded from the shaders/ directory, RGBA textures, and
// an off-screen render target. Every function needs a current GL 3.3 core context.
#include <epoxy/gl.h>

#include <cstdint>
#include <string>
#include <vector>

namespace diffpath::gui {

/// Directory the GLSL files are read from: $DIFFPATH_SHADERS if set, else the source tree's
/// shaders/ (compiled in), else ./shaders.
std::string shader_dir();

/// Compiles and links `<dir>/<name>.vert` + `<dir>/<name>.frag`. Returns 0 and fills `error`
/// (file, line and driver log) on failure; the caller shows it in the window.
GLuint load_program(const std::string& name, std::string& error);

/// An RGBA8 texture that can be (re)filled from CPU pixels; shown with ImGui::Image.
struct Texture {
  GLuint id = 0;
  int width = 0, height = 0;
  void upload(const uint8_t* rgba, int w, int h);
  void release();
};

/// A colour render target (with MSAA resolve done by blitting into `color`).
struct RenderTarget {
  GLuint fbo = 0, color_tex = 0;
  GLuint msaa_fbo = 0, msaa_rb = 0;
  int width = 0, height = 0;
  /// (Re)creates the buffers when the size changed.
  void resize(int w, int h);
  void bind_for_drawing() const;   // binds the multisampled target and sets the viewport
  void resolve() const;            // MSAA → color_tex
  /// Reads color_tex as RGBA8, rows top to bottom.
  std::vector<uint8_t> read_rgba() const;
  void release();
};

/// Reads the current default framebuffer (w × h) as RGBA8, rows top to bottom.
std::vector<uint8_t> read_framebuffer_rgba(int w, int h);

}  // namespace diffpath::gui
