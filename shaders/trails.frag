#version 330 core
// Colours a trail by time (t_max: dark purple → t_min: yellow, viridis) or by the particle's
// action (low: blue → high: red, the diverging map). Only the part already travelled
// (t ≥ u_t_now) is drawn. The colormaps come from the app's one table (app/gui/colormap.hpp),
// uploaded as a texture: row 0 viridis, row 1 diverging, row 2 magma. The colouring and the
// fading are the core scene's (core scene.hpp trail_color), which the SVG export and the
// animations draw with Cairo.
in float v_time;
in float v_action;
uniform float u_t_now;
uniform float u_t_min;
uniform float u_t_max;
uniform int u_mode;      // 0 = time, 1 = action
uniform float u_alpha;
uniform float u_fade;    // opacity at Tmax relative to Tmin (kTrailFade)
uniform sampler2D u_colormaps;
out vec4 frag;

vec3 colormap(int row, float x) {
  return texture(u_colormaps, vec2(clamp(x, 0.0, 1.0), (float(row) + 0.5) / 3.0)).rgb;
}

void main() {
  if (v_time < u_t_now - 1e-6) discard;
  float progress = (u_t_max - v_time) / max(u_t_max - u_t_min, 1e-9);
  vec3 c = (u_mode == 0) ? colormap(0, progress) : colormap(1, v_action);
  // The noisy start (near Tmax) fades, the end (near the data) is drawn at full opacity: the
  // eye follows where the paths go rather than the tangle they come from.
  frag = vec4(c, u_alpha * (u_fade + (1.0 - u_fade) * progress));
}
