#version 330 core
// Trails: one line strip per drawn trajectory. Each vertex carries its time t and the
// particle's action, normalised to [0, 1] on the CPU.
layout(location = 0) in vec2 a_pos;
layout(location = 1) in float a_time;     // t of this frame
layout(location = 2) in float a_action;   // normalised action of the particle
uniform vec2 u_scale;
uniform vec2 u_offset;
out float v_time;
out float v_action;
void main() {
  gl_Position = vec4(a_pos * u_scale + u_offset, 0.0, 1.0);
  v_time = a_time;
  v_action = a_action;
}
