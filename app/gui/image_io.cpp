#include "image_io.hpp"

#include <cairo.h>

#include "diffpath/common.hpp"

namespace diffpath::gui {

void write_png_rgba(const std::string& path, const std::vector<uint8_t>& rgba, int w, int h) {
  if (w <= 0 || h <= 0 || rgba.size() < size_t(w) * h * 4)
    throw Error("write_png: empty image for " + path);
  // Cairo's ARGB32 is native-endian premultiplied 0xAARRGGBB; screenshots are opaque so
  // premultiplication only matters for partially transparent pixels.
  cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
  const int stride = cairo_image_surface_get_stride(s);
  cairo_surface_flush(s);
  unsigned char* dst = cairo_image_surface_get_data(s);
  for (int y = 0; y < h; ++y) {
    auto* row = reinterpret_cast<uint32_t*>(dst + size_t(y) * stride);
    for (int x = 0; x < w; ++x) {
      const uint8_t* p = &rgba[(size_t(y) * w + x) * 4];
      const uint32_t a = p[3];
      const uint32_t r = p[0] * a / 255, g = p[1] * a / 255, b = p[2] * a / 255;
      row[x] = (a << 24) | (r << 16) | (g << 8) | b;
    }
  }
  cairo_surface_mark_dirty(s);
  const cairo_status_t st = cairo_surface_write_to_png(s, path.c_str());
  cairo_surface_destroy(s);
  if (st != CAIRO_STATUS_SUCCESS)
    throw Error("cannot write " + path + ": " + cairo_status_to_string(st));
}

}  // namespace diffpath::gui
