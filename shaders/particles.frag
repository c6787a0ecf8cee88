#version 330 core
// A disc with an anti-aliased rim; colour and opacity are uniforms so the same program draws
// particles, the data overlay and the highlighted particle.
uniform vec4 u_color;
out vec4 frag;
void main() {
  vec2 p = gl_PointCoord * 2.0 - 1.0;
  float r = length(p);
  float edge = fwidth(r);
  float a = 1.0 - smoothstep(1.0 - edge, 1.0, r);
  if (a <= 0.0) discard;
  frag = vec4(u_color.rgb, u_color.a * a);
}
