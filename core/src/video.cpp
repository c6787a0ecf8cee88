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

  void write_rgba(const uint8_t* rgba) {
    if (finished_) throw Error("video: " + path_ + ": already finished");
    // Frame buffers come from a pool: a fresh 4 MB buffer per frame costs its page faults
    // every time (palettegen holds its frames until the end and takes more from the pool).
    const int linesize = FFALIGN(o_.width * 4, 64);
    if (!pool_) pool_ = av_buffer_pool_init(size_t(linesize) * o_.height, nullptr);
    AVFrame* in = av_frame_alloc();
    in->format = AV_PIX_FMT_RGBA;
    in->width = o_.width;
    in->height = o_.height;
    in->pts = frames_;
    in->buf[0] = av_buffer_pool_get(pool_);
    if (!in->buf[0]) {
      av_frame_free(&in);
      throw Error("video: " + path_ + ": out of memory for a frame");
    }
    in->data[0] = in->buf[0]->data;
    in->linesize[0] = linesize;
    for (int y = 0; y < o_.height; ++y)
      std::copy(rgba + size_t(y) * o_.width * 4, rgba + size_t(y + 1) * o_.width * 4,
                in->data[0] + size_t(y) * in->linesize[0]);
    ++frames_;
    check(av_buffersrc_add_frame(src_, in), "filter input");
    av_frame_free(&in);
    drain_filter();
  }

  void finish() {
    check(av_buffersrc_add_frame(src_, nullptr), "filter flush");
    drain_filter();
    encode(nullptr);
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
    make_filter();
    packet_ = av_packet_alloc();
    out_ = av_frame_alloc();
  }

  // rgba → the encoder's pixels: format conversion (yuv420p), or for GIF a palette of the
  // whole clip (palettegen, stats over all frames) applied with dithering (paletteuse).
  void make_filter() {
    graph_ = avfilter_graph_alloc();
    char args[256];
    const AVRational tb = enc_->time_base;
    std::snprintf(args, sizeof args, "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=1/1",
                  o_.width, o_.height, int(AV_PIX_FMT_RGBA), tb.num, tb.den);
    check(avfilter_graph_create_filter(&src_, avfilter_get_by_name("buffer"), "in", args, nullptr, graph_), "buffer");
    check(avfilter_graph_create_filter(&sink_, avfilter_get_by_name("buffersink"), "out", nullptr, nullptr, graph_), "buffersink");
    const std::string chain = format_ == VideoFormat::Gif
        ? "split[a][b];[a]palettegen=stats_mode=full:max_colors=256[p];[b][p]paletteuse=dither=sierra2_4a"
        : "scale=flags=accurate_rnd+full_chroma_int,format=yuv420p";  // dark scenes: exact rounding
    AVFilterInOut* outputs = avfilter_inout_alloc();
    AVFilterInOut* inputs = avfilter_inout_alloc();
    outputs->name = av_strdup("in");
    outputs->filter_ctx = src_;
    outputs->pad_idx = 0;
    outputs->next = nullptr;
    inputs->name = av_strdup("out");
    inputs->filter_ctx = sink_;
    inputs->pad_idx = 0;
    inputs->next = nullptr;
    const int e = avfilter_graph_parse_ptr(graph_, chain.c_str(), &inputs, &outputs, nullptr);
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
  AVPacket* packet_ = nullptr;
  AVFrame* out_ = nullptr;
  AVBufferPool* pool_ = nullptr;
  int64_t frames_ = 0;
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
