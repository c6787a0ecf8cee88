#version 330 core
// Heatmap of a scalar field stored in a single-channel float texture, already normalised to
// [0, 1] on the CPU; NaN-free by construction. Drawn under the particles.
in vec2 v_uv;
uniform sampler2D u_field;
uniform float u_alpha;
out vec4 frag;

vec3 magma(float x) {
  x = clamp(x, 0.0, 1.0);
  const vec3 c0 = vec3(-0.0021, -0.0008, -0.0054);
  const vec3 c1 = vec3(0.2516, 0.6775, 2.4940);
  const vec3 c2 = vec3(8.3537, -3.5778, 0.3144);
  const vec3 c3 = vec3(-27.6687, 14.2647, -13.6492);
  const vec3 c4 = vec3(52.1761, -27.9436, 12.9442);
  const vec3 c5 = vec3(-50.7685, 29.0466, 4.2341);
  const vec3 c6 = vec3(18.6557, -11.4898, -5.6019);
  return c0 + x * (c1 + x * (c2 + x * (c3 + x * (c4 + x * (c5 + x * c6)))));
}

void main() {
  float v = texture(u_field, v_uv).r;
  frag = vec4(magma(v), u_alpha);
}
