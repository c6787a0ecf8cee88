#version 330 core
// Heatmap of a scalar field stored in a single-channel float texture, already normalised to
// [0, 1] on the CPU; NaN-free by construction. Drawn under the particles. The colours are a
// row of the app's colormap table (app/gui/colormap.hpp): u_row = (row + 0.5) / rows — magma
// for log q, the diverging map for a difference.
in vec2 v_uv;
uniform sampler2D u_field;
uniform sampler2D u_colormaps;
uniform float u_alpha;
uniform float u_row;
out vec4 frag;

void main() {
  float v = clamp(texture(u_field, v_uv).r, 0.0, 1.0);
  frag = vec4(texture(u_colormaps, vec2(v, u_row)).rgb, u_alpha);
}
