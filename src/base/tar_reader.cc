#include "base/tar_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "base/strings.h"

namespace berth {
namespace {

constexpr std::size_t kBlock = 512;
// Extended headers and GNU long names are held while they are read; Go's archive/tar refuses
// larger ones too, and no real path comes near.
constexpr std::uint64_t kMaxExtendedSize = 1 << 20;
constexpr std::uint64_t kMaxInt64 = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

// Header field positions (POSIX ustar; GNU shares all but the prefix, where it keeps times and a
// sparse map).
constexpr std::size_t kName = 0, kNameWidth = 100;
constexpr std::size_t kMode = 100, kUid = 108, kGid = 116, kIdWidth = 8;
constexpr std::size_t kSize = 124, kMtime = 136, kTimeWidth = 12;
constexpr std::size_t kChecksum = 148, kChecksumWidth = 8;
constexpr std::size_t kType = 156;
constexpr std::size_t kLinkName = 157;
constexpr std::size_t kMagic = 257;
constexpr std::size_t kPrefix = 345, kPrefixWidth = 155;
constexpr std::size_t kGnuIsExtended = 482;           // old-GNU sparse: extension blocks follow
constexpr std::size_t kGnuSparseBlockExtended = 504;  // ...and in each of them: another follows

bool isZero(const char* data, std::size_t size) {
  return std::all_of(data, data + size, [](char c) { return c == '\0'; });
}

// A NUL-terminated string in a fixed-width field (no NUL when it fills the field).
std::string cString(const char* field, std::size_t width) {
  const void* nul = std::memchr(field, '\0', width);
  return std::string(field, nul ? static_cast<std::size_t>(static_cast<const char*>(nul) - field) : width);
}

// Octal digits, optionally surrounded by spaces and NULs (writers differ in which terminator and
// whether they pad); all blank is zero.
std::optional<std::uint64_t> parseOctal(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\0')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\0')) text.remove_suffix(1);
  std::uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '7' || value >> 60 != 0) return std::nullopt;
    value = value << 3 | static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

// A numeric header field: octal, or GNU base-256 when the first byte's high bit is set (sizes
// beyond 8 GiB, large ids, times before 1970). Base-256 is big-endian two's complement in the bits
// after that flag; anything that does not fit an int64 is refused, as Go does.
std::optional<std::int64_t> parseNumeric(std::string_view field) {
  if (field.empty() || (static_cast<unsigned char>(field[0]) & 0x80) == 0) {
    const auto octal = parseOctal(field);
    if (!octal || *octal > kMaxInt64) return std::nullopt;
    return static_cast<std::int64_t>(*octal);
  }
  const bool negative = (static_cast<unsigned char>(field[0]) & 0x40) != 0;
  const unsigned char invert = negative ? 0xff : 0x00;
  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < field.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(field[i]) ^ invert;
    if (i == 0) c &= 0x7f;
    if (bits >> 56 != 0) return std::nullopt;
    bits = bits << 8 | c;
  }
  if (bits > kMaxInt64) return std::nullopt;
  // For a negative value the inverted bits are -value - 1.
  return negative ? -static_cast<std::int64_t>(bits) - 1 : static_cast<std::int64_t>(bits);
}

// The checksum is the sum of the header's bytes with its own field read as spaces. Old writers
// summed signed chars, so GNU tar (and we) accept either sum.
bool checksumMatches(const char* header, std::uint64_t recorded) {
  std::int64_t unsignedSum = 0;
  std::int64_t signedSum = 0;
  for (std::size_t i = 0; i < kBlock; ++i) {
    const bool inField = i >= kChecksum && i < kChecksum + kChecksumWidth;
    const char c = inField ? ' ' : header[i];
    unsignedSum += static_cast<unsigned char>(c);
    signedSum += static_cast<signed char>(c);
  }
  return recorded == static_cast<std::uint64_t>(unsignedSum) ||
         (signedSum >= 0 && recorded == static_cast<std::uint64_t>(signedSum));
}

std::optional<std::uint64_t> parseDecimal(std::string_view text, std::uint64_t max) {
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

// PAX times are decimal seconds with an optional sign and fraction ("1700000000.123456789"); the
// fraction is dropped.
std::optional<std::int64_t> parsePaxTime(std::string_view text) {
  const bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  const auto dot = text.find('.');
  if (dot != std::string_view::npos) {
    const std::string_view fraction = text.substr(dot + 1);
    if (!std::all_of(fraction.begin(), fraction.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    text = text.substr(0, dot);
  }
  const auto seconds = parseDecimal(text, kMaxInt64);
  if (!seconds) return std::nullopt;
  return negative ? -static_cast<std::int64_t>(*seconds) : static_cast<std::int64_t>(*seconds);
}

// Types whose size field says nothing about data: none follows the header (as Go reads them).
bool isHeaderOnly(char type) {
  return type == '1' || type == '2' || type == '3' || type == '4' || type == '5' || type == '6';
}

Unexpected invalid(std::string message) { return fail(ErrorCode::InvalidArgument, std::move(message)); }

}  // namespace

TarReader::TarReader(EntryCallback onEntry) : onEntry_(std::move(onEntry)) {}

Status TarReader::stop(Status status) {
  if (!status.has_value()) error_ = status.error();
  return status;
}

Status TarReader::feed(std::string_view piece) {
  BERTH_CHECK_MSG(!finished_, "TarReader::feed after finish");
  if (error_) return fail(*error_);
  while (!piece.empty()) {
    switch (state_) {
      case State::Header:
      case State::SparseMap: {
        const std::size_t n = std::min(kBlock - blockFill_, piece.size());
        std::memcpy(block_ + blockFill_, piece.data(), n);
        blockFill_ += n;
        bytesFed_ += n;
        piece.remove_prefix(n);
        if (blockFill_ == kBlock) {
          blockFill_ = 0;
          if (Status s = onBlock(); !s) return stop(std::move(s));
        }
        break;
      }
      case State::Data: {
        if (dataLeft_ > 0) {
          const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(dataLeft_, piece.size()));
          if (dataKind_ == DataKind::PaxHeader || dataKind_ == DataKind::LongName ||
              dataKind_ == DataKind::LongLink)
            extended_.append(piece.substr(0, n));
          dataLeft_ -= n;
          bytesFed_ += n;
          piece.remove_prefix(n);
          if (dataLeft_ == 0) {
            if (Status s = onDataRead(); !s) return stop(std::move(s));
          }
        } else {
          const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(padLeft_, piece.size()));
          padLeft_ -= n;
          bytesFed_ += n;
          piece.remove_prefix(n);
        }
        if (dataLeft_ == 0 && padLeft_ == 0) state_ = State::Header;
        break;
      }
      case State::End: {
        // Docker pads its archives with zeros past the marker; anything else means the stream is
        // not the archive it claims to be.
        const auto nonZero = std::find_if(piece.begin(), piece.end(), [](char c) { return c != '\0'; });
        const auto n = static_cast<std::size_t>(nonZero - piece.begin());
        bytesFed_ += n;
        piece.remove_prefix(n);
        if (!piece.empty())
          return stop(
              invalid(fmt::format("garbage after the end of the archive: a non-zero byte at byte {} "
                                  "(only zeros may follow the end-of-archive marker)",
                                  bytesFed_)));
        break;
      }
    }
  }
  return ok();
}

Status TarReader::onBlock() { return state_ == State::SparseMap ? onSparseBlock() : onHeader(); }

Status TarReader::onSparseBlock() {
  if (block_[kGnuSparseBlockExtended] != '\0') return ok();
  return startData(DataKind::Entry, dataSize_);
}

Status TarReader::onHeader() {
  const std::uint64_t offset = bytesFed_ - kBlock;
  if (isZero(block_, kBlock)) {
    if (overridesPending_)
      return invalid(
          fmt::format("bad tar archive: the extended header at byte {} is followed by the end of "
                      "the archive (a zero block at byte {}), not by an entry",
                      overridesOffset_, offset));
    if (++zeroBlocks_ == 1) {
      zeroBlockOffset_ = offset;
      return ok();
    }
    state_ = State::End;
    return ok();
  }
  if (zeroBlocks_ > 0)
    return invalid(
        fmt::format("bad tar archive: a header at byte {} follows a lone zero block at byte {} "
                    "(two zero blocks end an archive; one is not allowed inside it)",
                    offset, zeroBlockOffset_));

  const auto recorded = parseOctal(std::string_view(block_ + kChecksum, kChecksumWidth));
  if (!recorded || !checksumMatches(block_, *recorded)) {
    if (offset == 0 && std::memcmp(block_, "\x1f\x8b", 2) == 0)
      return invalid("not a tar archive: the stream is gzip-compressed (decompress it first)");
    if (offset == 0 && std::memcmp(block_, "\x28\xb5\x2f\xfd", 4) == 0)
      return invalid("not a tar archive: the stream is zstd-compressed (decompress it first)");
    return invalid(fmt::format("not a tar archive: bad header checksum at byte {}", offset));
  }

  const auto size = parseNumeric(std::string_view(block_ + kSize, kTimeWidth));
  if (!size || *size < 0)
    return invalid(fmt::format("bad tar header at byte {}: the size field is not a valid size ({})", offset,
                               quotedField(kSize, kTimeWidth)));
  const auto dataSize = static_cast<std::uint64_t>(*size);

  const char type = block_[kType];
  switch (type) {
    case 'x':
    case 'L':
    case 'K': {
      if (dataSize > kMaxExtendedSize)
        return invalid(
            fmt::format("bad tar header at byte {}: an extended header of {} bytes (at most {} are "
                        "accepted)",
                        offset, dataSize, kMaxExtendedSize));
      if (!overridesPending_) overridesOffset_ = offset;
      overridesPending_ = true;
      dataOffset_ = offset;
      return startData(type == 'x'   ? DataKind::PaxHeader
                       : type == 'L' ? DataKind::LongName
                                     : DataKind::LongLink,
                       dataSize);
    }
    case 'g':
      // Global records (Go writes none; git archive writes a commit id) would apply to every later
      // entry; none of the ones we report are set that way in practice.
      dataOffset_ = offset;
      return startData(DataKind::PaxGlobalHeader, dataSize);
    default:
      return startEntry(offset, dataSize);
  }
}

std::string TarReader::quotedField(std::size_t at, std::size_t width) const {
  return quoted(std::string_view(block_ + at, width));
}

Status TarReader::startEntry(std::uint64_t offset, std::uint64_t size) {
  TarEntry entry;
  entry.type = block_[kType];
  const auto number = [&](const char* what, std::size_t at, std::size_t width) -> Result<std::int64_t> {
    const auto value = parseNumeric(std::string_view(block_ + at, width));
    if (!value) {
      return invalid(fmt::format("bad tar header at byte {}: the {} field is not a number ({})", offset, what,
                                 quotedField(at, width)));
    }
    return *value;
  };
  BERTH_ASSIGN_OR_RETURN(const std::int64_t mode, number("mode", kMode, kIdWidth));
  BERTH_ASSIGN_OR_RETURN(const std::int64_t uid, number("uid", kUid, kIdWidth));
  BERTH_ASSIGN_OR_RETURN(const std::int64_t gid, number("gid", kGid, kIdWidth));
  BERTH_ASSIGN_OR_RETURN(entry.mtime, number("mtime", kMtime, kTimeWidth));
  if (mode < 0 || mode > std::numeric_limits<std::uint32_t>::max() || uid < 0 || gid < 0)
    return invalid(
        fmt::format("bad tar header at byte {}: a negative or oversized mode, uid or gid", offset));
  entry.mode = static_cast<std::uint32_t>(mode);
  entry.uid = static_cast<std::uint64_t>(uid);
  entry.gid = static_cast<std::uint64_t>(gid);

  // Only POSIX ustar has the prefix field; GNU keeps other things there.
  std::string name = cString(block_ + kName, kNameWidth);
  if (std::memcmp(block_ + kMagic, "ustar\0", 6) == 0) {
    const std::string prefix = cString(block_ + kPrefix, kPrefixWidth);
    if (!prefix.empty()) name = prefix + "/" + name;
  }
  // PAX records win over GNU long names: they are the later standard, and a writer that emits both
  // means the PAX ones.
  entry.path = paxPath_ ? *paxPath_ : longName_ ? *longName_ : std::move(name);
  entry.linkTarget = paxLinkpath_ ? *paxLinkpath_ : longLink_ ? *longLink_ : cString(block_ + kLinkName, 100);
  if (paxSize_) size = *paxSize_;
  if (paxUid_) entry.uid = *paxUid_;
  if (paxGid_) entry.gid = *paxGid_;
  if (paxMtime_) entry.mtime = *paxMtime_;
  entry.size = isHeaderOnly(entry.type) ? 0 : size;
  overridesPending_ = false;
  longName_.reset();
  longLink_.reset();
  paxPath_.reset();
  paxLinkpath_.reset();
  paxSize_.reset();
  paxUid_.reset();
  paxGid_.reset();
  paxMtime_.reset();

  ++entries_;
  dataBytes_ += entry.size;
  dataPath_ = entry.path;
  dataOffset_ = offset;
  if (onEntry_) BERTH_TRY(onEntry_(entry));
  // An old-GNU sparse file's header says whether blocks of its sparse map follow before the data.
  if (entry.type == 'S' && std::memcmp(block_ + kMagic, "ustar  \0", 8) == 0 &&
      block_[kGnuIsExtended] != '\0') {
    dataKind_ = DataKind::Entry;
    dataSize_ = entry.size;
    state_ = State::SparseMap;
    return ok();
  }
  return startData(DataKind::Entry, entry.size);
}

Status TarReader::startData(DataKind kind, std::uint64_t size) {
  dataKind_ = kind;
  dataSize_ = size;
  dataLeft_ = size;
  padLeft_ = (kBlock - size % kBlock) % kBlock;
  extended_.clear();
  if (size == 0) {
    state_ = State::Header;
    return onDataRead();
  }
  state_ = State::Data;
  return ok();
}

Status TarReader::onDataRead() {
  Status status = ok();
  switch (dataKind_) {
    case DataKind::Entry:
    case DataKind::PaxGlobalHeader:
      return ok();
    case DataKind::LongName:
      longName_ = cString(extended_.data(), extended_.size());
      break;
    case DataKind::LongLink:
      longLink_ = cString(extended_.data(), extended_.size());
      break;
    case DataKind::PaxHeader:
      status = parsePaxRecords(extended_);
      break;
  }
  // A megabyte-long header should not stay allocated for the rest of the stream.
  if (extended_.capacity() > 64 * 1024)
    std::string().swap(extended_);
  else
    extended_.clear();
  return status;
}

// Records are "<length> <key>=<value>\n", the length counting the whole record in decimal; values
// may hold any byte, newlines included, so the length is the only way to find a record's end.
Status TarReader::parsePaxRecords(std::string_view records) {
  std::uint64_t at = dataOffset_ + kBlock;
  while (!records.empty()) {
    const auto bad = [&](std::string_view what) {
      return invalid(
          fmt::format("bad PAX extended header at byte {}: the record at byte {} {}", dataOffset_, at, what));
    };
    const auto space = records.find(' ');
    const auto length = space == std::string_view::npos
                            ? std::nullopt
                            : parseDecimal(records.substr(0, space), records.size());
    // The shortest possible record is "<length> k=\n".
    if (!length || *length < space + 4) return bad("does not start with a valid length");
    std::string_view record = records.substr(space + 1, static_cast<std::size_t>(*length) - space - 1);
    if (record.back() != '\n') return bad("does not end with a newline where its length says");
    record.remove_suffix(1);
    const auto equals = record.find('=');
    if (equals == std::string_view::npos || equals == 0) return bad("is not key=value");
    const std::string_view key = record.substr(0, equals);
    const std::string_view value = record.substr(equals + 1);

    // An empty value cancels the record: the header's own field applies again.
    if (key == "path" || key == "linkpath") {
      if (value.find('\0') != std::string_view::npos) return bad("has a NUL byte in a path");
      auto& target = key == "path" ? paxPath_ : paxLinkpath_;
      if (value.empty())
        target.reset();
      else
        target = std::string(value);
    } else if (key == "size" || key == "uid" || key == "gid") {
      auto& target = key == "size" ? paxSize_ : key == "uid" ? paxUid_ : paxGid_;
      if (value.empty()) {
        target.reset();
      } else {
        target = parseDecimal(value, key == "size" ? kMaxInt64 : std::numeric_limits<std::uint64_t>::max());
        if (!target) return bad(fmt::format("has an invalid {} ({})", key, quoted(value)));
      }
    } else if (key == "mtime") {
      if (value.empty()) {
        paxMtime_.reset();
      } else {
        paxMtime_ = parsePaxTime(value);
        if (!paxMtime_) return bad(fmt::format("has an invalid mtime ({})", quoted(value)));
      }
    }
    at += *length;
    records.remove_prefix(static_cast<std::size_t>(*length));
  }
  return ok();
}

std::string TarReader::dataSubject() const {
  switch (dataKind_) {
    case DataKind::Entry:
      return "the data of " + dataPath_;
    case DataKind::PaxHeader:
      return fmt::format("the PAX extended header at byte {}", dataOffset_);
    case DataKind::PaxGlobalHeader:
      return fmt::format("the PAX global header at byte {}", dataOffset_);
    case DataKind::LongName:
      return fmt::format("the GNU long name at byte {}", dataOffset_);
    case DataKind::LongLink:
      return fmt::format("the GNU long link target at byte {}", dataOffset_);
  }
  return {};
}

Status TarReader::finish() {
  if (error_) return fail(*error_);
  BERTH_CHECK_MSG(!finished_, "TarReader::finish called twice");
  finished_ = true;
  switch (state_) {
    case State::End:
      return ok();
    case State::Header:
      // One zero block, then the end of the stream (or a partial block of zeros): GNU tar accepts it.
      if (zeroBlocks_ > 0 && isZero(block_, blockFill_)) return ok();
      if (blockFill_ > 0)
        return stop(
            invalid(fmt::format("the archive is truncated: it ends inside the header at byte {} ({} of {} "
                                "bytes)",
                                bytesFed_ - blockFill_, blockFill_, kBlock)));
      if (bytesFed_ == 0) return stop(invalid("not a tar archive: the stream is empty"));
      if (overridesPending_)
        return stop(
            invalid(fmt::format("the archive is truncated: it ends after the extended header at byte {}, "
                                "before the entry it describes",
                                overridesOffset_)));
      return stop(invalid(fmt::format(
          "the archive is truncated: it ends at byte {}, after {}, without the "
          "end-of-archive marker",
          bytesFed_,
          entries_ > 0 ? "the last entry (" + dataPath_ + ")" : std::string("a PAX global header"))));
    case State::SparseMap:
      return stop(
          invalid(fmt::format("the archive is truncated: it ends inside the sparse map of {}", dataPath_)));
    case State::Data:
      if (dataLeft_ > 0)
        return stop(invalid(fmt::format("the archive is truncated: it ends inside {} ({} of {} bytes)",
                                        dataSubject(), dataSize_ - dataLeft_, dataSize_)));
      return stop(invalid(
          fmt::format("the archive is truncated: it ends inside the padding after {}", dataSubject())));
  }
  return ok();
}

}  // namespace berth
