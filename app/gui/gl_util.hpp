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

/// An owned OpenGL name, deleted with its owner (RAII; move-only). GL objects need the context
/// current when they die: the app destroys everything that draws before the context.
template <void (*Delete)(GLuint)>
class GlName {
 public:
  GlName() = default;
  explicit GlName(GLuint id) : id_(id) {}
  ~GlName() { reset(); }
  GlName(GlName&& o) noexcept : id_(o.id_) { o.id_ = 0; }
  GlName& operator=(GlName&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      o.id_ = 0;
    }
    return *this;
  }
  GlName(const GlName&) = delete;
  GlName& operator=(const GlName&) = delete;
  operator GLuint() const { return id_; }
  GLuint get() const { return id_; }
  void reset(GLuint id = 0) {
    if (id_) Delete(id_);
    id_ = id;
  }

 private:
  GLuint id_ = 0;
};

namespace gl_delete {
inline void buffer(GLuint id) { glDeleteBuffers(1, &id); }
inline void vertex_array(GLuint id) { glDeleteVertexArrays(1, &id); }
inline void texture(GLuint id) { glDeleteTextures(1, &id); }
inline void framebuffer(GLuint id) { glDeleteFramebuffers(1, &id); }
inline void renderbuffer(GLuint id) { glDeleteRenderbuffers(1, &id); }
inline void program(GLuint id) { glDeleteProgram(id); }
}  // namespace gl_delete

using GlBuffer = GlName<gl_delete::buffer>;
using GlVertexArray = GlName<gl_delete::vertex_array>;
using GlTexture = GlName<gl_delete::texture>;
using GlFramebuffer = GlName<gl_delete::framebuffer>;
using GlRenderbuffer = GlName<gl_delete::renderbuffer>;
using GlProgram = GlName<gl_delete::program>;

GlBuffer make_buffer();
GlVertexArray make_vertex_array();
GlTexture make_texture();
/// Linear filtering, clamped edges for the bound GL_TEXTURE_2D (every texture of the app).
void set_linear_clamp();

/// Compiles and links `<dir>/<name>.vert` + `<dir>/<name>.frag`. Returns 0 and fills `error`
/// (file, line and driver log) on failure; the caller shows it in the window.
GLuint load_program(const std::string& name, std::string& error);

/// An RGBA8 texture that can be (re)filled from CPU pixels; shown with ImGui::Image.
struct Texture {
  GlTexture id;
  int width = 0, height = 0;
  void upload(const uint8_t* rgba, int w, int h);
};

/// A colour render target (with MSAA resolve done by blitting into `color`).
struct RenderTarget {
  GlFramebuffer fbo, msaa_fbo;
  GlTexture color_tex;
  GlRenderbuffer msaa_rb;
  int width = 0, height = 0;
  /// (Re)creates the buffers when the size changed.
  void resize(int w, int h);
  void bind_for_drawing() const;   // binds the multisampled target and sets the viewport
  void resolve() const;            // MSAA → color_tex
  /// Reads color_tex as RGBA8, rows top to bottom.
  std::vector<uint8_t> read_rgba() const;
};

/// Reads the current default framebuffer (w × h) as RGBA8, rows top to bottom.
std::vector<uint8_t> read_framebuffer_rgba(int w, int h);

}  // namespace diffpath::gui
