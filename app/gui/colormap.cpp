#include "colormap.hpp"

#include "diffpath/figure.hpp"

namespace diffpath::gui {
namespace {

Colormap core_map(ViewColormap map) {
  switch (map) {
    case ViewColormap::Viridis: return Colormap::Viridis;
    case ViewColormap::Diverging: return Colormap::Diverging;
    case ViewColormap::Magma: return Colormap::Magma;
  }
  return Colormap::Viridis;
}

}  // namespace

std::array<float, 3> colormap_rgb(ViewColormap map, double u) {
  const Color c = colormap_color(core_map(map), u);
  return {float(c.r), float(c.g), float(c.b)};
}

std::vector<float> colormap_table(int n) {
  std::vector<float> t;
  t.reserve(size_t(n) * 3 * kViewColormaps);
  for (int m = 0; m < kViewColormaps; ++m)
    for (const auto& c : diffpath::colormap_table(core_map(ViewColormap(m)), n))
      t.insert(t.end(), c.begin(), c.end());
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
