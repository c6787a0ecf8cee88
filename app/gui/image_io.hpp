#pragma once
// Writing RGBA8 pixel buffers (screenshots, viewport captures) as PNG through Cairo.
#include <cstdint>
#include <string>
#include <vector>

namespace diffpath::gui {

/// Writes w × h RGBA8 pixels (rows top to bottom) to a PNG file. Throws diffpath::Error.
void write_png_rgba(const std::string& path, const std::vector<uint8_t>& rgba, int w, int h);

}  // namespace diffpath::gui
