#version 330 core
// Colours a trail by time (t_max: dark purple → t_min: yellow, viridis) or by the particle's
// action (low: blue → high: red). Only the part already travelled (t ≥ u_t_now) is drawn.
in float v_time;
in float v_action;
uniform float u_t_now;
uniform float u_t_min;
uniform float u_t_max;
uniform int u_mode;      // 0 = time, 1 = action
uniform float u_alpha;
out vec4 frag;

vec3 viridis(float x) {
  x = clamp(x, 0.0, 1.0);
  const vec3 c0 = vec3(0.2777, 0.0054, 0.3341);
  const vec3 c1 = vec3(0.1051, 1.4046, 1.3846);
  const vec3 c2 = vec3(-0.3309, 0.2148, 0.0950);
  const vec3 c3 = vec3(-4.6342, -5.7991, -19.3324);
  const vec3 c4 = vec3(6.2283, 14.1799, 56.6906);
  const vec3 c5 = vec3(4.7764, -13.7451, -65.3530);
  const vec3 c6 = vec3(-5.4355, 4.6459, 26.3124);
  return c0 + x * (c1 + x * (c2 + x * (c3 + x * (c4 + x * (c5 + x * c6)))));
}

vec3 coolwarm(float x) {
  x = clamp(x, 0.0, 1.0);
  vec3 cold = vec3(0.23, 0.30, 0.75), mid = vec3(0.87, 0.87, 0.87), hot = vec3(0.71, 0.02, 0.15);
  return x < 0.5 ? mix(cold, mid, x * 2.0) : mix(mid, hot, x * 2.0 - 1.0);
}

void main() {
  if (v_time < u_t_now - 1e-6) discard;
  float progress = (u_t_max - v_time) / max(u_t_max - u_t_min, 1e-9);
  vec3 c = (u_mode == 0) ? viridis(progress) : coolwarm(v_action);
  // The noisy start (near Tmax) fades, the end (near the data) is drawn at full opacity: the
  // eye follows where the paths go rather than the tangle they come from.
  frag = vec4(c, u_alpha * (0.3 + 0.7 * progress));
}
