#include "colormap.hpp"

#include <algorithm>
#include <cstdint>

#include "diffpath/figure.hpp"

namespace diffpath::gui {
namespace {

// matplotlib's magma at u = 0, 0.1, ..., 1 (linear in between), like figure.cpp's viridis.
// TODO(merge): from the core colormap table once it has magma.
std::array<float, 3> magma(double u) {
  static const uint32_t kMagma[] = {0x000004, 0x140E36, 0x3B0F70, 0x641A80, 0x8C2981, 0xB73779,
                                    0xDE4968, 0xF7705C, 0xFE9F6D, 0xFECF92, 0xFCFDBF};
  const double x = std::clamp(u, 0.0, 1.0) * 10.0;
  const int i = std::min(9, int(x));
  const double w = x - i;
  std::array<float, 3> out{};
  for (int k = 0; k < 3; ++k) {
    const int shift = 16 - 8 * k;
    const double a = double((kMagma[i] >> shift) & 255) / 255.0, b = double((kMagma[i + 1] >> shift) & 255) / 255.0;
    out[size_t(k)] = float(a + w * (b - a));
  }
  return out;
}

}  // namespace

std::array<float, 3> colormap_rgb(ViewColormap map, double u) {
  u = std::clamp(u, 0.0, 1.0);
  if (map == ViewColormap::Magma) return magma(u);
  const Color c = colormap_color(map == ViewColormap::Viridis ? Colormap::Viridis : Colormap::Diverging, u);
  return {float(c.r), float(c.g), float(c.b)};
}

std::vector<float> colormap_table(int n) {
  std::vector<float> t;
  t.reserve(size_t(n) * 3 * kViewColormaps);
  for (int m = 0; m < kViewColormaps; ++m)
    for (int i = 0; i < n; ++i) {
      const auto c = colormap_rgb(ViewColormap(m), double(i) / (n - 1));
      t.insert(t.end(), c.begin(), c.end());
    }
  return t;
}

GlTexture make_colormap_texture(int n) {
  GlTexture tex = make_texture();
  const std::vector<float> t = colormap_table(n);
  glBindTexture(GL_TEXTURE_2D, tex);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGB32F, n, kViewColormaps, 0, GL_RGB, GL_FLOAT, t.data());
  // Linear along u; the rows are sampled at their centres, so no bleeding between maps.
  set_linear_clamp();
  glBindTexture(GL_TEXTURE_2D, 0);
  return tex;
}

}  // namespace diffpath::gui
