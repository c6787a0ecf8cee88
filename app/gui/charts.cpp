#include "charts.hpp"

#include <imgui.h>

namespace diffpath::gui {

const char* chart_name(ChartId id) {
  static const char* names[] = {"loss", "nll-step", "nll-eta", "w2", "action", "c-map"};
  return names[int(id)];
}
const char* chart_title(ChartId id) {
  static const char* titles[] = {"training loss", "NLL(0) and E[-c] vs step", "NLL(eta)",
                                 "W2^2(eta)", "actions A/eta", "c(x0) over data"};
  return titles[int(id)];
}
std::optional<ChartId> parse_chart_name(const std::string& name) {
  for (int i = 0; i < kChartCount; ++i)
    if (name == chart_name(ChartId(i))) return ChartId(i);
  return std::nullopt;
}

void Charts::update(const Session&, double, int, int, double) {}
void Charts::draw(ChartId id, float width, float height) const {
  ImGui::BeginChild(chart_name(id), ImVec2(width, height), true);
  ImGui::TextUnformatted(chart_title(id));
  ImGui::EndChild();
}
void Charts::export_chart(ChartId, const Session&, double, const std::string&, int, int) const {
  throw Error("charts are not available yet");
}
void Charts::release() {
  for (auto& s : slots_) s.texture.release();
}

}  // namespace diffpath::gui
