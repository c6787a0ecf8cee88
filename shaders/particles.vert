#version 330 core
// Particles (and data points) as round point sprites. World → clip: ndc = pos * scale + offset.
layout(location = 0) in vec2 a_pos;
uniform vec2 u_scale;
uniform vec2 u_offset;
uniform float u_size;   // diameter in pixels
void main() {
  gl_Position = vec4(a_pos * u_scale + u_offset, 0.0, 1.0);
  gl_PointSize = u_size;
}
