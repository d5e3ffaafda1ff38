#include "volumes/zstd_stream.h"

#include <fmt/core.h>
#include <zstd.h>

#include <string>
#include <vector>

namespace berth::volumes {
namespace {

Error zstdError(std::string_view what, std::size_t code) {
  return Error(ErrorCode::InvalidArgument, fmt::format("{}: {}", what, ZSTD_getErrorName(code)));
}

}  // namespace

struct ZstdCompressor::Impl {
  ByteSink out;
  ZSTD_CCtx* ctx = nullptr;
  std::vector<char> buffer;
  bool failed = false;

  // Runs the compressor over `in` with `mode`, handing every produced byte to `out`.
  Status run(std::string_view in, ZSTD_EndDirective mode) {
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    while (true) {
      ZSTD_outBuffer output{buffer.data(), buffer.size(), 0};
      const std::size_t left = ZSTD_compressStream2(ctx, &output, &input, mode);
      if (ZSTD_isError(left)) {
        failed = true;
        return fail(zstdError("zstd compression", left));
      }
      if (output.pos > 0) {
        if (Status s = out(std::string_view(buffer.data(), output.pos)); !s) {
          failed = true;
          return s;
        }
      }
      const bool done = mode == ZSTD_e_continue ? input.pos == input.size : left == 0;
      if (done) return ok();
    }
  }
};

ZstdCompressor::ZstdCompressor(ByteSink out, int level) : impl_(std::make_unique<Impl>()) {
  impl_->out = std::move(out);
  impl_->ctx = ZSTD_createCCtx();
  impl_->buffer.resize(ZSTD_CStreamOutSize());
  if (impl_->ctx != nullptr) {
    ZSTD_CCtx_setParameter(impl_->ctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(impl_->ctx, ZSTD_c_checksumFlag, 1);
  }
}

ZstdCompressor::~ZstdCompressor() { ZSTD_freeCCtx(impl_->ctx); }

Status ZstdCompressor::write(std::string_view piece) {
  if (impl_->ctx == nullptr) return fail(ErrorCode::Internal, "zstd: out of memory");
  if (impl_->failed) return fail(ErrorCode::Internal, "zstd compression failed before");
  return impl_->run(piece, ZSTD_e_continue);
}

Status ZstdCompressor::finish() {
  if (impl_->ctx == nullptr) return fail(ErrorCode::Internal, "zstd: out of memory");
  if (impl_->failed) return fail(ErrorCode::Internal, "zstd compression failed before");
  return impl_->run({}, ZSTD_e_end);
}

struct ZstdDecompressor::Impl {
  ByteSink out;
  ZSTD_DCtx* ctx = nullptr;
  std::vector<char> buffer;
  std::size_t lastHint = 0;  // 0: the last frame ended; otherwise more input is needed
  bool any = false;
  bool failed = false;
};

ZstdDecompressor::ZstdDecompressor(ByteSink out) : impl_(std::make_unique<Impl>()) {
  impl_->out = std::move(out);
  impl_->ctx = ZSTD_createDCtx();
  impl_->buffer.resize(ZSTD_DStreamOutSize());
}

ZstdDecompressor::~ZstdDecompressor() { ZSTD_freeDCtx(impl_->ctx); }

Status ZstdDecompressor::write(std::string_view piece) {
  if (impl_->ctx == nullptr) return fail(ErrorCode::Internal, "zstd: out of memory");
  if (impl_->failed) return fail(ErrorCode::InvalidArgument, "zstd decompression failed before");
  if (!piece.empty()) impl_->any = true;
  ZSTD_inBuffer input{piece.data(), piece.size(), 0};
  while (input.pos < input.size) {
    ZSTD_outBuffer output{impl_->buffer.data(), impl_->buffer.size(), 0};
    const std::size_t hint = ZSTD_decompressStream(impl_->ctx, &output, &input);
    if (ZSTD_isError(hint)) {
      impl_->failed = true;
      return fail(zstdError("not a valid zstd stream", hint));
    }
    impl_->lastHint = hint;
    if (output.pos > 0) {
      if (Status s = impl_->out(std::string_view(impl_->buffer.data(), output.pos)); !s) {
        impl_->failed = true;
        return s;
      }
    }
  }
  // Output the decoder still holds (a full output buffer leaves some behind).
  while (true) {
    ZSTD_outBuffer output{impl_->buffer.data(), impl_->buffer.size(), 0};
    ZSTD_inBuffer none{nullptr, 0, 0};
    const std::size_t hint = ZSTD_decompressStream(impl_->ctx, &output, &none);
    if (ZSTD_isError(hint)) {
      impl_->failed = true;
      return fail(zstdError("not a valid zstd stream", hint));
    }
    // A call that produced nothing says what the next frame would need, not whether this one ended.
    if (output.pos == 0) break;
    impl_->lastHint = hint;
    if (Status s = impl_->out(std::string_view(impl_->buffer.data(), output.pos)); !s) {
      impl_->failed = true;
      return s;
    }
  }
  return ok();
}

Status ZstdDecompressor::finish() {
  if (impl_->failed) return fail(ErrorCode::InvalidArgument, "zstd decompression failed before");
  if (!impl_->any) return fail(ErrorCode::InvalidArgument, "the zstd stream is empty");
  if (impl_->lastHint != 0) {
    return fail(ErrorCode::InvalidArgument, "the zstd stream is truncated: it ends inside a frame");
  }
  return ok();
}

bool looksLikeZstd(std::string_view head) {
  return head.size() >= 4 && static_cast<unsigned char>(head[0]) == 0x28 &&
         static_cast<unsigned char>(head[1]) == 0xB5 && static_cast<unsigned char>(head[2]) == 0x2F &&
         static_cast<unsigned char>(head[3]) == 0xFD;
}

}  // namespace berth::volumes
