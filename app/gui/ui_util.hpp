#pragma once
// Small Dear ImGui helpers shared by the app's windows and panels.
#include <imgui.h>

namespace diffpath::gui {

/// The fixed layout: windows neither move nor resize nor remember anything.
inline ImGuiWindowFlags fixed_window() {
  return ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse |
         ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoBringToFrontOnFocus;
}

/// A "(?)" after the last item with `text` as its tooltip.
inline void help_marker(const char* text) {
  ImGui::SameLine();
  ImGui::TextDisabled("(?)");
  if (ImGui::IsItemHovered()) {
    ImGui::BeginTooltip();
    ImGui::PushTextWrapPos(ImGui::GetFontSize() * 28.0f);
    ImGui::TextUnformatted(text);
    ImGui::PopTextWrapPos();
    ImGui::EndTooltip();
  }
}

}  // namespace diffpath::gui
