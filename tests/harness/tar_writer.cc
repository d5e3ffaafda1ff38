#include "harness/tar_writer.h"

#include <cstdio>
#include <cstring>
#include <utility>

#include "base/check.h"

namespace berth::testing {
namespace {

constexpr std::size_t kBlock = 512;
constexpr unsigned long kMtime = 1700000000;  // fixed, for reproducible archives

// Zero-padded octal of width-1 digits and a NUL, as ustar wants.
void putOctal(char* field, std::size_t width, unsigned long value) {
  for (std::size_t i = width - 1; i-- > 0;) {
    field[i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
  BERTH_CHECK_MSG(value == 0, "tar number too large for its field");
  field[width - 1] = '\0';
}

void putString(char* field, std::size_t width, std::string_view text) {
  BERTH_CHECK_MSG(text.size() <= width, "tar field too long: " + std::string(text));
  if (!text.empty()) std::memcpy(field, text.data(), text.size());
}

}  // namespace

void TarWriter::header(std::string_view name, char type, std::size_t size, unsigned mode,
                       std::string_view linkTarget) {
  BERTH_CHECK_MSG(!name.empty() && name.front() != '/', "tar entry names are relative: " +
                                                            std::string(name));
  char h[kBlock];
  std::memset(h, 0, sizeof h);
  std::string_view prefix;
  std::string_view base = name;
  if (name.size() > 100) {
    const auto slash = name.rfind('/', 155);
    BERTH_CHECK_MSG(slash != std::string_view::npos && name.size() - slash - 1 <= 100,
                    "tar entry name too long: " + std::string(name));
    prefix = name.substr(0, slash);
    base = name.substr(slash + 1);
  }
  putString(h, 100, base);
  putOctal(h + 100, 8, mode);
  putOctal(h + 108, 8, 0);
  putOctal(h + 116, 8, 0);
  putOctal(h + 124, 12, size);
  putOctal(h + 136, 12, kMtime);
  h[156] = type;
  putString(h + 157, 100, linkTarget);
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  putString(h + 265, 32, "root");
  putString(h + 297, 32, "root");
  putString(h + 345, 155, prefix);
  std::memset(h + 148, ' ', 8);
  unsigned long sum = 0;
  for (unsigned char c : h) sum += c;
  putOctal(h + 148, 7, sum);  // six digits, NUL, then the space left from above
  h[155] = ' ';
  data_.append(h, sizeof h);
}

void TarWriter::addDirectory(std::string_view name, unsigned mode) {
  std::string n(name);
  if (n.back() != '/') n += '/';
  header(n, '5', 0, mode, {});
}

void TarWriter::addFile(std::string_view name, std::string_view content, unsigned mode) {
  header(name, '0', content.size(), mode, {});
  data_.append(content);
  data_.append((kBlock - content.size() % kBlock) % kBlock, '\0');
}

void TarWriter::addSymlink(std::string_view name, std::string_view target) {
  header(name, '2', 0, 0777, target);
}

std::string TarWriter::finish() {
  data_.append(2 * kBlock, '\0');
  return std::exchange(data_, {});
}

}  // namespace berth::testing
