#include "gl_util.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace diffpath::gui {

std::string shader_dir() {
  if (const char* env = std::getenv("DIFFPATH_SHADERS"); env && *env) return env;
#ifdef DIFFPATH_SHADER_DIR
  if (std::ifstream(std::string(DIFFPATH_SHADER_DIR) + "/particles.vert")) return DIFFPATH_SHADER_DIR;
#endif
  return "shaders";
}

namespace {

bool read_text(const std::string& path, std::string& out) {
  std::ifstream in(path);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

GLuint compile(GLenum kind, const std::string& path, std::string& error) {
  std::string src;
  if (!read_text(path, src)) {
    error = "cannot read shader " + path + " (set DIFFPATH_SHADERS to the shaders/ directory)";
    return 0;
  }
  GLuint s = glCreateShader(kind);
  const char* p = src.c_str();
  glShaderSource(s, 1, &p, nullptr);
  glCompileShader(s);
  GLint ok = 0;
  glGetShaderiv(s, GL_COMPILE_STATUS, &ok);
  if (!ok) {
    char log[2048] = {0};
    glGetShaderInfoLog(s, sizeof log, nullptr, log);
    error = "shader " + path + ": " + log;
    glDeleteShader(s);
    return 0;
  }
  return s;
}

}  // namespace

GLuint load_program(const std::string& name, std::string& error) {
  const std::string dir = shader_dir();
  GLuint vs = compile(GL_VERTEX_SHADER, dir + "/" + name + ".vert", error);
  if (!vs) return 0;
  GLuint fs = compile(GL_FRAGMENT_SHADER, dir + "/" + name + ".frag", error);
  if (!fs) {
    glDeleteShader(vs);
    return 0;
  }
  GLuint prog = glCreateProgram();
  glAttachShader(prog, vs);
  glAttachShader(prog, fs);
  glLinkProgram(prog);
  glDeleteShader(vs);
  glDeleteShader(fs);
  GLint ok = 0;
  glGetProgramiv(prog, GL_LINK_STATUS, &ok);
  if (!ok) {
    char log[2048] = {0};
    glGetProgramInfoLog(prog, sizeof log, nullptr, log);
    error = "program " + name + ": " + log;
    glDeleteProgram(prog);
    return 0;
  }
  return prog;
}

GlBuffer make_buffer() {
  GLuint id = 0;
  glGenBuffers(1, &id);
  return GlBuffer(id);
}

GlVertexArray make_vertex_array() {
  GLuint id = 0;
  glGenVertexArrays(1, &id);
  return GlVertexArray(id);
}

GlTexture make_texture() {
  GLuint id = 0;
  glGenTextures(1, &id);
  return GlTexture(id);
}

void set_linear_clamp() {
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
}

void Texture::upload(const uint8_t* rgba, int w, int h) {
  if (!id) {
    id = make_texture();
    glBindTexture(GL_TEXTURE_2D, id);
    set_linear_clamp();
  }
  glBindTexture(GL_TEXTURE_2D, id);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  if (w != width || h != height)
    glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, w, h, 0, GL_RGBA, GL_UNSIGNED_BYTE, rgba);
  else
    glTexSubImage2D(GL_TEXTURE_2D, 0, 0, 0, w, h, GL_RGBA, GL_UNSIGNED_BYTE, rgba);
  width = w;
  height = h;
}

void RenderTarget::resize(int w, int h) {
  if (w == width && h == height && fbo) return;
  width = w;
  height = h;
  color_tex = make_texture();
  glBindTexture(GL_TEXTURE_2D, color_tex);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, w, h, 0, GL_RGBA, GL_UNSIGNED_BYTE, nullptr);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
  GLuint id = 0;
  glGenFramebuffers(1, &id);
  fbo.reset(id);
  glBindFramebuffer(GL_FRAMEBUFFER, fbo);
  glFramebufferTexture2D(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, color_tex, 0);

  // 4× MSAA gives smooth trails; llvmpipe supports it.
  glGenRenderbuffers(1, &id);
  msaa_rb.reset(id);
  glBindRenderbuffer(GL_RENDERBUFFER, msaa_rb);
  glRenderbufferStorageMultisample(GL_RENDERBUFFER, 4, GL_RGBA8, w, h);
  glGenFramebuffers(1, &id);
  msaa_fbo.reset(id);
  glBindFramebuffer(GL_FRAMEBUFFER, msaa_fbo);
  glFramebufferRenderbuffer(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_RENDERBUFFER, msaa_rb);
  glBindFramebuffer(GL_FRAMEBUFFER, 0);
}

void RenderTarget::bind_for_drawing() const {
  glBindFramebuffer(GL_FRAMEBUFFER, msaa_fbo);
  glViewport(0, 0, width, height);
}

void RenderTarget::resolve() const {
  glBindFramebuffer(GL_READ_FRAMEBUFFER, msaa_fbo);
  glBindFramebuffer(GL_DRAW_FRAMEBUFFER, fbo);
  glBlitFramebuffer(0, 0, width, height, 0, 0, width, height, GL_COLOR_BUFFER_BIT, GL_NEAREST);
  glBindFramebuffer(GL_FRAMEBUFFER, 0);
}

static std::vector<uint8_t> flip_rows(std::vector<uint8_t> px, int w, int h) {
  const size_t row = size_t(w) * 4;
  std::vector<uint8_t> tmp(row);
  for (int y = 0; y < h / 2; ++y) {
    uint8_t* a = px.data() + row * y;
    uint8_t* b = px.data() + row * (h - 1 - y);
    std::copy(a, a + row, tmp.data());
    std::copy(b, b + row, a);
    std::copy(tmp.data(), tmp.data() + row, b);
  }
  return px;
}

std::vector<uint8_t> RenderTarget::read_rgba() const {
  std::vector<uint8_t> px(size_t(width) * height * 4);
  glBindFramebuffer(GL_READ_FRAMEBUFFER, fbo);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadPixels(0, 0, width, height, GL_RGBA, GL_UNSIGNED_BYTE, px.data());
  glBindFramebuffer(GL_READ_FRAMEBUFFER, 0);
  return flip_rows(std::move(px), width, height);
}

std::vector<uint8_t> read_framebuffer_rgba(int w, int h) {
  std::vector<uint8_t> px(size_t(w) * h * 4);
  glBindFramebuffer(GL_READ_FRAMEBUFFER, 0);
  glReadBuffer(GL_BACK);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadPixels(0, 0, w, h, GL_RGBA, GL_UNSIGNED_BYTE, px.data());
  return flip_rows(std::move(px), w, h);
}

}  // namespace diffpath::gui
