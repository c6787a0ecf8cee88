#pragma once
// The app's colormaps, defined once: the viewport's shaders sample them as a texture built
// from this table (one row per map), its SVG export and the charts (core figure.hpp) use the
// same colours: all three are the core's (figure.hpp colormap_color / colormap_table).
#include <array>
#include <vector>

#include "gl_util.hpp"

namespace diffpath::gui {

enum class ViewColormap { Viridis = 0, Diverging = 1, Magma = 2 };
inline constexpr int kViewColormaps = 3;

/// Colour of `map` at u ∈ [0, 1] (clamped), RGB in [0, 1].
std::array<float, 3> colormap_rgb(ViewColormap map, double u);

/// Every map sampled at `n` points, RGB floats, row k = ViewColormap(k): the texture's texels.
std::vector<float> colormap_table(int n);

/// The table as an RGB float texture (width n, one row per map, linear filtering); shaders
/// look a map up at texture(u_colormaps, vec2(u, (row + 0.5) / kViewColormaps)).
GlTexture make_colormap_texture(int n = 256);

}  // namespace diffpath::gui
