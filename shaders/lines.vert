#version 330 core
// Plain coloured lines (axes, grid, score arrows, the hovered path) in world coordinates.
layout(location = 0) in vec2 a_pos;
layout(location = 1) in vec4 a_color;
uniform vec2 u_scale;
uniform vec2 u_offset;
out vec4 v_color;
void main() {
  gl_Position = vec4(a_pos * u_scale + u_offset, 0.0, 1.0);
  v_color = a_color;
}
