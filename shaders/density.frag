#version 330 core
// Heatmap of a scalar field stored in a single-channel float texture, already normalised to
// [0, 1] on the CPU; NaN-free by construction. Drawn under the particles. Magma from the app's
// colormap table (app/gui/colormap.hpp; row 2 of u_colormaps).
in vec2 v_uv;
uniform sampler2D u_field;
uniform sampler2D u_colormaps;
uniform float u_alpha;
out vec4 frag;

void main() {
  float v = clamp(texture(u_field, v_uv).r, 0.0, 1.0);
  frag = vec4(texture(u_colormaps, vec2(v, 2.5 / 3.0)).rgb, u_alpha);
}
