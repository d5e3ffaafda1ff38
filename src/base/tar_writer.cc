#include "base/tar_writer.h"

#include <cstring>

namespace berth {
namespace {

constexpr std::size_t kBlock = 512;
constexpr std::uint64_t kMtime = 1700000000;  // fixed, for reproducible archives

// Zero-padded octal in width-1 digits and a NUL, as ustar wants (values here always fit: sizes
// beyond 8 GiB get a PAX "size" record instead).
void putOctal(char* field, std::size_t width, std::uint64_t value) {
  for (std::size_t i = width - 1; i-- > 0;) {
    field[i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
  field[width - 1] = '\0';
}

void putString(char* field, std::size_t width, std::string_view text) {
  const std::size_t n = std::min(width, text.size());
  if (n != 0) std::memcpy(field, text.data(), n);
}

void pad(std::string& data) { data.append((kBlock - data.size() % kBlock) % kBlock, '\0'); }

// One PAX record: "<len> key=value\n", where len counts the whole record including itself.
std::string paxRecord(std::string_view key, std::string_view value) {
  const std::size_t body = 1 + key.size() + 1 + value.size() + 1;
  std::size_t len = body + 1;
  while (std::to_string(len).size() + body != len) len = std::to_string(len).size() + body;
  return std::to_string(len) + " " + std::string(key) + "=" + std::string(value) + "\n";
}

}  // namespace

void TarWriter::header(std::string_view name, char type, std::size_t size, unsigned mode,
                       std::string_view linkTarget, std::string_view prefix) {
  char h[kBlock];
  std::memset(h, 0, sizeof h);
  putString(h, 100, name);
  putOctal(h + 100, 8, mode & 07777);
  putOctal(h + 108, 8, uid_);
  putOctal(h + 116, 8, gid_);
  putOctal(h + 124, 12, size);
  putOctal(h + 136, 12, kMtime);
  h[156] = type;
  putString(h + 157, 100, linkTarget);
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  if (uid_ == 0) putString(h + 265, 32, "root");
  if (gid_ == 0) putString(h + 297, 32, "root");
  putString(h + 345, 155, prefix);
  std::memset(h + 148, ' ', 8);
  unsigned long sum = 0;
  for (const unsigned char c : h) sum += c;
  putOctal(h + 148, 7, sum);
  h[155] = ' ';
  data_.append(h, sizeof h);
}

void TarWriter::entry(std::string_view name, char type, std::size_t size, unsigned mode,
                      std::string_view linkTarget) {
  while (!name.empty() && name.front() == '/') name.remove_prefix(1);
  std::string_view prefix;
  std::string_view base = name;
  bool pax = linkTarget.size() > 100;
  if (name.size() > 100) {
    const auto slash = name.size() > 155 ? name.rfind('/', 155) : name.rfind('/');
    if (slash != std::string_view::npos && slash <= 155 && name.size() - slash - 1 <= 100 && slash > 0) {
      prefix = name.substr(0, slash);
      base = name.substr(slash + 1);
    } else {
      pax = true;
    }
  }
  if (pax) {
    std::string records;
    if (name.size() > 100) records += paxRecord("path", name);
    if (linkTarget.size() > 100) records += paxRecord("linkpath", linkTarget);
    header("PaxHeader", 'x', records.size(), 0644, {}, {});
    data_.append(records);
    pad(data_);
    if (name.size() > 100) {
      base = name.substr(0, 100);
      prefix = {};
    }
  }
  header(base, type, size, mode, linkTarget.substr(0, std::min<std::size_t>(100, linkTarget.size())), prefix);
}

void TarWriter::addDirectory(std::string_view name, unsigned mode) {
  std::string n(name);
  if (n.empty() || n.back() != '/') n += '/';
  entry(n, '5', 0, mode, {});
}

void TarWriter::addFile(std::string_view name, std::string_view content, unsigned mode) {
  entry(name, '0', content.size(), mode, {});
  data_.append(content);
  pad(data_);
}

void TarWriter::beginFile(std::string_view name, std::uint64_t size, unsigned mode) {
  entry(name, '0', static_cast<std::size_t>(size), mode, {});
}

void TarWriter::endFile(std::uint64_t size) { data_.append((kBlock - size % kBlock) % kBlock, '\0'); }

std::string TarWriter::take() {
  std::string out = std::move(data_);
  data_.clear();
  return out;
}

void TarWriter::addSymlink(std::string_view name, std::string_view target) {
  entry(name, '2', 0, 0777, target);
}

std::string TarWriter::finish() {
  data_.append(2 * kBlock, '\0');
  std::string out = std::move(data_);
  data_.clear();
  return out;
}

}  // namespace berth
