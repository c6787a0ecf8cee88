// Video encoding and decoding with FFmpeg's libraries (video.hpp). The one file that talks to
// FFmpeg: a writer (muxer + encoder + a libavfilter graph from RGBA to the encoder's pixels)
// and a decoder for checks.
#include "diffpath/video.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <set>
#include <utility>
#include <string>
#include <vector>

namespace diffpath {

namespace fs = std::filesystem;

VideoFormat video_format_for_path(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".mp4") return VideoFormat::Mp4;
  if (ext == ".webm") return VideoFormat::WebM;
  if (ext == ".gif") return VideoFormat::Gif;
  throw Error("video: '" + path + "': unknown extension (use .mp4, .webm or .gif)");
}

namespace {
std::string av_error(int e) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(e, buf, sizeof buf);
  return buf;
}

}  // namespace

struct VideoWriter::Impl {
  Impl(std::string path, VideoOptions o) : path_(std::move(path)), o_(o) {
    format_ = video_format_for_path(path_);
    if (!(o_.fps > 0) || o_.fps > 240) throw Error("video: fps must be in (0, 240]");
    if (o_.width < 16 || o_.height < 16 || o_.width > 8192 || o_.height > 8192)
      throw Error("video: size " + std::to_string(o_.width) + "x" + std::to_string(o_.height) +
                  " outside 16..8192");
    if (format_ != VideoFormat::Gif && (o_.width % 2 || o_.height % 2))
      throw Error("video: MP4 and WebM (yuv420p) need an even width and height, not " +
                  std::to_string(o_.width) + "x" + std::to_string(o_.height));
    tmp_ = path_ + ".part";
    try {
      open();
    } catch (...) {
      close(true);
      throw;
    }
  }
  ~Impl() { close(!finished_); }

  // An RGBA frame from the pool: a fresh 4 MB buffer per frame would cost its page faults
  // every time.
  AVFrame* make_frame(const uint8_t* rgba, int64_t pts) {
    const int linesize = FFALIGN(o_.width * 4, 64);
    if (!pool_) pool_ = av_buffer_pool_init(size_t(linesize) * o_.height, nullptr);
    AVFrame* f = av_frame_alloc();
    f->format = AV_PIX_FMT_RGBA;
    f->width = o_.width;
    f->height = o_.height;
    f->pts = pts;
    f->buf[0] = av_buffer_pool_get(pool_);
    if (!f->buf[0]) {
      av_frame_free(&f);
      throw Error("video: " + path_ + ": out of memory for a frame");
    }
    f->data[0] = f->buf[0]->data;
    f->linesize[0] = linesize;
    for (int y = 0; y < o_.height; ++y)
      std::copy(rgba + size_t(y) * o_.width * 4, rgba + size_t(y + 1) * o_.width * 4,
                f->data[0] + size_t(y) * f->linesize[0]);
    return f;
  }

  void add(AVFilterContext* src, AVFrame* f, const char* what) {
    const int e = av_buffersrc_add_frame(src, f);
    av_frame_free(&f);
    check(e, what);
  }

  void write_rgba(const uint8_t* rgba) {
    if (finished_) throw Error("video: " + path_ + ": already finished");
    if (palette_src_) {
      // GIF: the palette from the hint and the first frame, known now, so every frame can be
      // encoded as it comes (a palette of the whole clip would hold all of it in memory).
      int64_t pts = 0;
      if (!palette_hint_.empty()) add(palette_src_, make_frame(palette_hint_.data(), pts++), "palette input");
      add(palette_src_, make_frame(rgba, pts), "palette input");
      check(av_buffersrc_add_frame(palette_src_, nullptr), "palette input");
      palette_src_ = nullptr;
      palette_hint_ = {};
    }
    add(src_, make_frame(rgba, frames_++), "filter input");
    drain_filter();
  }

  void finish() {
    check(av_buffersrc_add_frame(src_, nullptr), "filter flush");
    drain_filter();
    encode(nullptr);
    header_written_ = false;  // close() must not try the trailer again if this one fails
    check(av_write_trailer(fmt_), "trailer");
    close(false);
    std::error_code ec;
    fs::rename(tmp_, path_, ec);
    if (ec) throw Error("video: cannot rename " + tmp_ + " to " + path_ + ": " + ec.message());
    finished_ = true;
  }

  void check(int e, const char* what) const {
    if (e < 0) throw Error("video: " + path_ + ": " + what + ": " + av_error(e));
  }

  void open() {
    const char* muxer = format_ == VideoFormat::Mp4 ? "mp4" : format_ == VideoFormat::WebM ? "webm" : "gif";
    check(avformat_alloc_output_context2(&fmt_, nullptr, muxer, tmp_.c_str()), "muxer");
    const char* enc_name = format_ == VideoFormat::Mp4 ? "libx264" : format_ == VideoFormat::WebM ? "libvpx-vp9" : "gif";
    const AVCodec* codec = avcodec_find_encoder_by_name(enc_name);
    if (!codec) throw Error(std::string("video: no ") + enc_name + " encoder in this FFmpeg");
    stream_ = avformat_new_stream(fmt_, nullptr);
    enc_ = avcodec_alloc_context3(codec);
    enc_->width = o_.width;
    enc_->height = o_.height;
    const AVRational fps = av_d2q(o_.fps, 100000);
    enc_->time_base = av_inv_q(fps);
    enc_->framerate = fps;
    enc_->pix_fmt = format_ == VideoFormat::Gif ? AV_PIX_FMT_PAL8 : AV_PIX_FMT_YUV420P;
    enc_->gop_size = int(o_.fps * 2);
    if (fmt_->oformat->flags & AVFMT_GLOBALHEADER) enc_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary* opts = nullptr;
    if (format_ == VideoFormat::Mp4) {
      av_dict_set(&opts, "crf", std::to_string(o_.quality).c_str(), 0);
      av_dict_set(&opts, "preset", "veryfast", 0);
    } else if (format_ == VideoFormat::WebM) {
      av_dict_set(&opts, "crf", std::to_string(o_.quality + 8).c_str(), 0);
      av_dict_set(&opts, "b", "0", 0);
      av_dict_set(&opts, "deadline", "realtime", 0);
      av_dict_set(&opts, "cpu-used", "8", 0);
      av_dict_set(&opts, "row-mt", "1", 0);
    }
    const int e = avcodec_open2(enc_, codec, &opts);
    av_dict_free(&opts);
    check(e, "encoder");
    check(avcodec_parameters_from_context(stream_->codecpar, enc_), "stream");
    stream_->time_base = enc_->time_base;
    stream_->avg_frame_rate = fps;
    check(avio_open(&fmt_->pb, tmp_.c_str(), AVIO_FLAG_WRITE), "cannot write");
    check(avformat_write_header(fmt_, nullptr), "header");
    header_written_ = true;
    make_filter();
    packet_ = av_packet_alloc();
    out_ = av_frame_alloc();
  }

  // rgba → the encoder's pixels: format conversion (yuv420p), or for GIF a palette
  // (palettegen over its own input: the palette hint and the first frame) applied to every
  // frame with dithering (paletteuse).
  void make_filter() {
    graph_ = avfilter_graph_alloc();
    char args[256];
    const AVRational tb = enc_->time_base;
    std::snprintf(args, sizeof args, "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=1/1",
                  o_.width, o_.height, int(AV_PIX_FMT_RGBA), tb.num, tb.den);
    const AVFilter* buffer = avfilter_get_by_name("buffer");
    check(avfilter_graph_create_filter(&src_, buffer, "in", args, nullptr, graph_), "buffer");
    check(avfilter_graph_create_filter(&sink_, avfilter_get_by_name("buffersink"), "out", nullptr, nullptr, graph_), "buffersink");
    const bool gif = format_ == VideoFormat::Gif;
    if (gif) check(avfilter_graph_create_filter(&palette_src_, buffer, "pal", args, nullptr, graph_), "buffer");
    const std::string chain = gif ? "[pal]palettegen=max_colors=256[p];[in][p]paletteuse=dither=sierra2_4a"
                                  : "[in]scale=flags=accurate_rnd+full_chroma_int,format=yuv420p";  // dark scenes: exact rounding
    AVFilterInOut* outputs = nullptr;
    for (auto [name, ctx] : {std::pair{"in", src_}, std::pair{"pal", palette_src_}}) {
      if (!ctx) continue;
      AVFilterInOut* o = avfilter_inout_alloc();
      o->name = av_strdup(name);
      o->filter_ctx = ctx;
      o->pad_idx = 0;
      o->next = outputs;
      outputs = o;
    }
    AVFilterInOut* inputs = avfilter_inout_alloc();
    inputs->name = av_strdup("out");
    inputs->filter_ctx = sink_;
    inputs->pad_idx = 0;
    inputs->next = nullptr;
    const int e = avfilter_graph_parse_ptr(graph_, (chain + "[out]").c_str(), &inputs, &outputs, nullptr);
    avfilter_inout_free(&inputs);
    avfilter_inout_free(&outputs);
    check(e, "filter graph");
    check(avfilter_graph_config(graph_, nullptr), "filter graph");
  }

  void drain_filter() {
    for (;;) {
      const int e = av_buffersink_get_frame(sink_, out_);
      if (e == AVERROR(EAGAIN) || e == AVERROR_EOF) return;
      check(e, "filter output");
      out_->pict_type = AV_PICTURE_TYPE_NONE;
      encode(out_);
      av_frame_unref(out_);
    }
  }

  void encode(AVFrame* f) {
    check(avcodec_send_frame(enc_, f), "encode");
    for (;;) {
      const int e = avcodec_receive_packet(enc_, packet_);
      if (e == AVERROR(EAGAIN) || e == AVERROR_EOF) return;
      check(e, "encode");
      av_packet_rescale_ts(packet_, enc_->time_base, stream_->time_base);
      packet_->stream_index = stream_->index;
      check(av_interleaved_write_frame(fmt_, packet_), "write");
    }
  }

  void close(bool remove) {
    if (graph_) avfilter_graph_free(&graph_);
    if (enc_) avcodec_free_context(&enc_);
    if (packet_) av_packet_free(&packet_);
    if (out_) av_frame_free(&out_);
    if (pool_) av_buffer_pool_uninit(&pool_);  // freed once the last frame is released
    if (fmt_) {
      // Muxers hold packets until the trailer (FFmpeg 5.1's GIF muxer frees the frame it
      // holds back only there): an abandoned file gets its trailer too, into the temporary
      // file that is removed below, or those packets leak.
      if (header_written_) {
        header_written_ = false;
        av_write_trailer(fmt_);
      }
      if (fmt_->pb) avio_closep(&fmt_->pb);
      avformat_free_context(fmt_);
      fmt_ = nullptr;
    }
    if (remove) {
      std::error_code ec;
      fs::remove(tmp_, ec);
    }
  }

  std::string path_, tmp_;
  VideoOptions o_;
  VideoFormat format_{};
  AVFormatContext* fmt_ = nullptr;
  AVStream* stream_ = nullptr;
  AVCodecContext* enc_ = nullptr;
  AVFilterGraph* graph_ = nullptr;
  AVFilterContext *src_ = nullptr, *sink_ = nullptr;
  AVFilterContext* palette_src_ = nullptr;  // GIF, until the first frame: palettegen's input
  std::vector<uint8_t> palette_hint_;
  AVPacket* packet_ = nullptr;
  AVFrame* out_ = nullptr;
  AVBufferPool* pool_ = nullptr;
  int64_t frames_ = 0;
  bool header_written_ = false;  // and no trailer yet
  bool finished_ = false;
};


VideoWriter::VideoWriter(const std::string& path, const VideoOptions& options) {
  av_log_set_level(AV_LOG_ERROR);  // the encoders' statistics are not ours to print
  impl_ = std::make_unique<Impl>(path, options);
}
VideoWriter::~VideoWriter() = default;

void VideoWriter::write_rgba(const std::vector<uint8_t>& rgba) {
  const VideoOptions& o = impl_->o_;
  if (rgba.size() != size_t(o.width) * o.height * 4)
    throw Error("video: frame of " + std::to_string(rgba.size()) + " bytes, expected " +
                std::to_string(size_t(o.width) * o.height * 4));
  impl_->write_rgba(rgba.data());
}

void VideoWriter::set_palette_hint(std::vector<uint8_t> rgba) {
  const VideoOptions& o = impl_->o_;
  if (rgba.size() != size_t(o.width) * o.height * 4)
    throw Error("video: palette hint of " + std::to_string(rgba.size()) + " bytes, expected " +
                std::to_string(size_t(o.width) * o.height * 4));
  if (impl_->frames_ > 0) throw Error("video: the palette hint comes before the first frame");
  impl_->palette_hint_ = std::move(rgba);
}

void VideoWriter::finish() { impl_->finish(); }
int64_t VideoWriter::frames() const { return impl_->frames_; }

// ---------------------------------------------------------------------------------------------
// Decoding (checks)

VideoInfo probe_video(const std::string& path) {
  av_log_set_level(AV_LOG_ERROR);
  VideoInfo info;
  AVFormatContext* f = nullptr;
  if (int e = avformat_open_input(&f, path.c_str(), nullptr, nullptr); e < 0)
    throw Error("video: cannot read " + path + ": " + av_error(e));
  struct Cleanup {
    AVFormatContext*& f;
    AVCodecContext* c = nullptr;
    AVPacket* p = av_packet_alloc();
    AVFrame* fr = av_frame_alloc();
    SwsContext* sws = nullptr;
    ~Cleanup() {
      sws_freeContext(sws);
      av_frame_free(&fr);
      av_packet_free(&p);
      avcodec_free_context(&c);
      avformat_close_input(&f);
    }
  } k{f};
  if (avformat_find_stream_info(f, nullptr) < 0 || f->nb_streams < 1)
    throw Error("video: " + path + ": no stream");
  AVStream* s = f->streams[0];
  const AVCodec* dec = avcodec_find_decoder(s->codecpar->codec_id);
  if (!dec) throw Error("video: " + path + ": no decoder");
  k.c = avcodec_alloc_context3(dec);
  avcodec_parameters_to_context(k.c, s->codecpar);
  if (avcodec_open2(k.c, dec, nullptr) < 0) throw Error("video: " + path + ": cannot open the decoder");
  info.container = f->iformat->name;
  info.codec = dec->name;
  info.width = s->codecpar->width;
  info.height = s->codecpar->height;
  info.fps = av_q2d(s->avg_frame_rate.num ? s->avg_frame_rate : s->r_frame_rate);
  std::set<uint32_t> colors;
  const bool palette = s->codecpar->codec_id == AV_CODEC_ID_GIF;
  auto take = [&] {
    ++info.frames;
    std::vector<uint8_t> rgba(size_t(info.width) * info.height * 4);
    k.sws = sws_getCachedContext(k.sws, k.fr->width, k.fr->height, AVPixelFormat(k.fr->format),
                                 info.width, info.height, AV_PIX_FMT_RGBA, SWS_POINT | SWS_ACCURATE_RND, nullptr,
                                 nullptr, nullptr);
    uint8_t* dst[4] = {rgba.data(), nullptr, nullptr, nullptr};
    const int stride[4] = {info.width * 4, 0, 0, 0};
    sws_scale(k.sws, k.fr->data, k.fr->linesize, 0, k.fr->height, dst, stride);
    if (palette)  // the colours a palette codec's frames use, as decoded
      for (size_t i = 0; i < rgba.size(); i += 4)
        colors.insert(uint32_t(rgba[i]) << 16 | uint32_t(rgba[i + 1]) << 8 | rgba[i + 2]);
    if (info.frames == 1) info.first_rgba = rgba;
    info.last_rgba = std::move(rgba);
  };
  while (av_read_frame(f, k.p) >= 0) {
    if (k.p->stream_index == s->index && avcodec_send_packet(k.c, k.p) >= 0)
      while (avcodec_receive_frame(k.c, k.fr) >= 0) take();
    av_packet_unref(k.p);
  }
  avcodec_send_packet(k.c, nullptr);
  while (avcodec_receive_frame(k.c, k.fr) >= 0) take();
  info.colors_used = int(colors.size());
  return info;
}

}  // namespace diffpath
