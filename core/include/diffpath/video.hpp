#pragma once
// Video files from RGBA frames, through FFmpeg's libraries (libavformat/libavcodec/libavfilter):
//   .mp4   H.264 (libx264, yuv420p: plays in browsers and slides), CRF `quality`
//   .webm  VP9 (libvpx, yuv420p), constant quality
//   .gif   one palette (libavfilter palettegen, 256 colours) of the first frame and an optional
//          hint (a frame with the colours still to come), applied with dithering (paletteuse)
//          — no colour quantizer of our own; GIF delays are whole hundredths of a second, so
//          its rate is 100/k fps (25, 20, 12.5, …; 24 becomes 23.9)
// Frames are streamed to the encoder as they come: MP4 and WebM hold only the encoder's
// lookahead, GIF nothing (its palette is fixed by the first frame). The file is written as
// PATH.part and renamed over PATH by finish(): a writer destroyed before finish (an error, a
// cancel) leaves no partial file.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "diffpath/common.hpp"

namespace diffpath {

enum class VideoFormat { Mp4, WebM, Gif };

/// From the extension (.mp4, .webm, .gif; case-insensitive); Error naming the path otherwise.
VideoFormat video_format_for_path(const std::string& path);

struct VideoOptions {
  int width = 1280, height = 720;   // 16..8192; even for MP4 and WebM (yuv420p)
  double fps = 30;                  // (0, 240]
  int quality = 23;                 // CRF: lower is better (H.264 23 ≈ visually lossless here)
};

class VideoWriter {
 public:
  /// Checks the options and opens PATH.part for writing (so a bad path fails before any work);
  /// throws Error with a one-line reason.
  VideoWriter(const std::string& path, const VideoOptions& options);
  ~VideoWriter();  // without finish(): removes PATH.part
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;

  /// GIF: a frame (width × height RGBA8) whose colours the palette must cover besides the
  /// first frame's — e.g. the clip's last frame, when it is known first. Before the first
  /// frame; ignored by MP4 and WebM.
  void set_palette_hint(std::vector<uint8_t> rgba);
  /// One frame: width × height straight RGBA8, row-major, top row first (render_rgba's layout).
  void write_rgba(const std::vector<uint8_t>& rgba);
  /// Flushes the encoder, writes the trailer and renames PATH.part to PATH.
  void finish();
  int64_t frames() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// What a video file holds, decoded (for tests and checks): container and codec names as
/// FFmpeg reports them, size, frame rate, the number of decoded frames, the first and last
/// frames as RGBA8 (width × height × 4), and for palette codecs the number of distinct colours
/// the frames use.
struct VideoInfo {
  std::string container, codec;
  int width = 0, height = 0;
  double fps = 0;
  int frames = 0;
  std::vector<uint8_t> first_rgba, last_rgba;
  int colors_used = 0;   // GIF: distinct colours over all decoded frames; 0 otherwise
};

/// Decodes the whole file. Throws Error naming the file if it cannot be read.
VideoInfo probe_video(const std::string& path);

}  // namespace diffpath
