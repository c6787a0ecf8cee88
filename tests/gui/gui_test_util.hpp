#pragma once
// Helpers shared by the GUI tests: run the real app on a script (under the xvfb-run of the CTest
// command), read files and PNG screenshots.
#include <cairo.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace gui_test {

inline std::string slurp(const std::string& path, size_t max = std::string::npos) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.substr(0, std::min(max, s.size()));
}

inline std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// Runs the app on `script` (extra command-line flags in `flags`), stdout and stderr to `log`.
inline int run_app(const std::string& script, const std::string& log, const std::string& flags = "") {
  const std::string cmd = std::string("\"") + DIFFPATH_GUI + "\" " + flags + " --script \"" + script +
                          "\" > \"" + log + "\" 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

struct Image {
  int w = 0, h = 0;
  std::vector<uint32_t> px;  // 0xAARRGGBB
  uint32_t at(int x, int y) const { return px[size_t(y) * w + x]; }
};

inline Image load_png(const std::string& path) {
  Image img;
  cairo_surface_t* s = cairo_image_surface_create_from_png(path.c_str());
  if (cairo_surface_status(s) == CAIRO_STATUS_SUCCESS) {
    img.w = cairo_image_surface_get_width(s);
    img.h = cairo_image_surface_get_height(s);
    const int stride = cairo_image_surface_get_stride(s);
    const unsigned char* d = cairo_image_surface_get_data(s);
    img.px.resize(size_t(img.w) * img.h);
    for (int y = 0; y < img.h; ++y)
      for (int x = 0; x < img.w; ++x)
        img.px[size_t(y) * img.w + x] = reinterpret_cast<const uint32_t*>(d + size_t(y) * stride)[x];
  }
  cairo_surface_destroy(s);
  return img;
}

inline int r_of(uint32_t p) { return (p >> 16) & 255; }
inline int g_of(uint32_t p) { return (p >> 8) & 255; }
inline int b_of(uint32_t p) { return p & 255; }

}  // namespace gui_test
