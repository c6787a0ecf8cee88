#version 330 core
// A world-space rectangle carrying a scalar field texture (log-density or |score|).
layout(location = 0) in vec2 a_pos;   // world coordinates of the rectangle corner
layout(location = 1) in vec2 a_uv;
uniform vec2 u_scale;
uniform vec2 u_offset;
out vec2 v_uv;
void main() {
  gl_Position = vec4(a_pos * u_scale + u_offset, 0.0, 1.0);
  v_uv = a_uv;
}
