#include "base/tar_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <vector>

#include "base/files.h"
#include "base/tar_writer.h"

namespace berth {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Feeds `archive` in pieces of `pieceSize` bytes, then finishes; the entries seen, or the first error.
Result<std::vector<TarEntry>> readAll(std::string_view archive, std::size_t pieceSize) {
  std::vector<TarEntry> entries;
  TarReader reader([&](const TarEntry& e) {
    entries.push_back(e);
    return ok();
  });
  for (std::size_t at = 0; at < archive.size(); at += pieceSize)
    BERTH_TRY(reader.feed(archive.substr(at, pieceSize)));
  BERTH_TRY(reader.finish());
  EXPECT_EQ(reader.entries(), entries.size());
  EXPECT_EQ(reader.bytesFed(), archive.size());
  return entries;
}

std::string errorOf(std::string_view archive, std::size_t pieceSize = 512) {
  const auto r = readAll(archive, pieceSize);
  if (r.has_value()) return "(no error)";
  EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
  return r.error().message();
}

std::map<std::string, TarEntry> byPath(const std::vector<TarEntry>& entries) {
  std::map<std::string, TarEntry> out;
  for (const auto& e : entries) EXPECT_TRUE(out.emplace(e.path, e).second) << "duplicate " << e.path;
  return out;
}

// Raw headers, for archives TarWriter would never produce.
void putOctal(std::string& h, std::size_t at, std::size_t width, std::uint64_t value) {
  for (std::size_t i = width - 1; i-- > 0;) {
    h[at + i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
  h[at + width - 1] = '\0';
}

// Recomputes the checksum of the header at `at` after a test has edited it.
void seal(std::string& archive, std::size_t at = 0, bool signedSum = false) {
  std::fill_n(archive.begin() + static_cast<std::ptrdiff_t>(at + 148), 8, ' ');
  long sum = 0;
  for (std::size_t i = at; i < at + 512; ++i)
    sum += signedSum ? static_cast<signed char>(archive[i]) : static_cast<unsigned char>(archive[i]);
  putOctal(archive, at + 148, 7, static_cast<std::uint64_t>(sum));
  archive[at + 155] = ' ';
}

std::string rawHeader(std::string_view name, char type, std::uint64_t size, std::string_view link = {}) {
  std::string h(512, '\0');
  name.copy(h.data(), 100);
  putOctal(h, 100, 8, 0644);
  putOctal(h, 108, 8, 1000);
  putOctal(h, 116, 8, 1000);
  putOctal(h, 124, 12, size);
  putOctal(h, 136, 12, 1700000000);
  h[156] = type;
  link.copy(h.data() + 157, 100);
  std::string(
      "ustar\0"
      "00",
      8)
      .copy(h.data() + 257, 8);
  seal(h);
  return h;
}

std::string padded(std::string data) {
  data.append((512 - data.size() % 512) % 512, '\0');
  return data;
}

std::string paxRecord(std::string_view key, std::string_view value) {
  const std::size_t body = 1 + key.size() + 1 + value.size() + 1;
  std::size_t len = body + 1;
  while (std::to_string(len).size() + body != len) len = std::to_string(len).size() + body;
  return std::to_string(len) + " " + std::string(key) + "=" + std::string(value) + "\n";
}

std::string paxHeader(const std::string& records) {
  return rawHeader("PaxHeader", 'x', records.size()) + padded(records);
}

const std::string kEnd(1024, '\0');

std::string writerArchive() {
  TarWriter w;
  w.addDirectory("app", 0750);
  w.addFile("app/hello.txt", "hello\n", 0640);
  w.addSymlink("app/current", "hello.txt");
  // Splits into ustar prefix + name.
  w.addFile(std::string(60, 'p') + "/" + std::string(60, 'q') + ".txt", "split", 0600);
  // No slash to split at, and a link target over 100 bytes: PAX records.
  w.addFile(std::string(180, 'x'), "pax", 0644);
  w.addSymlink("far", "/" + std::string(150, 't'));
  w.addFile("big.bin", std::string(1 << 20, 'b'), 0755);
  return w.finish();
}

TEST(TarReader, ReadsTarWriterArchivesInAnyPieces) {
  const std::string archive = writerArchive();
  for (const std::size_t piece :
       {std::size_t{1}, std::size_t{7}, std::size_t{512}, std::size_t{65536}, archive.size()}) {
    SCOPED_TRACE("pieces of " + std::to_string(piece));
    const auto entries = readAll(archive, piece);
    ASSERT_TRUE(entries.has_value()) << entries.error().message();
    ASSERT_EQ(entries->size(), 7u);
    const auto& e = *entries;
    EXPECT_EQ(e[0].path, "app/");
    EXPECT_EQ(e[0].type, '5');
    EXPECT_EQ(e[0].mode, 0750u);
    EXPECT_EQ(e[1].path, "app/hello.txt");
    EXPECT_EQ(e[1].type, '0');
    EXPECT_EQ(e[1].size, 6u);
    EXPECT_EQ(e[1].mode, 0640u);
    EXPECT_EQ(e[1].uid, 0u);
    EXPECT_EQ(e[1].mtime, 1700000000);
    EXPECT_EQ(e[2].path, "app/current");
    EXPECT_EQ(e[2].type, '2');
    EXPECT_EQ(e[2].size, 0u);
    EXPECT_EQ(e[2].linkTarget, "hello.txt");
    EXPECT_EQ(e[3].path, std::string(60, 'p') + "/" + std::string(60, 'q') + ".txt");
    EXPECT_EQ(e[3].size, 5u);
    EXPECT_EQ(e[3].mode, 0600u);
    EXPECT_EQ(e[4].path, std::string(180, 'x'));
    EXPECT_EQ(e[4].size, 3u);
    EXPECT_EQ(e[5].path, "far");
    EXPECT_EQ(e[5].linkTarget, "/" + std::string(150, 't'));
    EXPECT_EQ(e[6].path, "big.bin");
    EXPECT_EQ(e[6].size, 1u << 20);
  }
}

TEST(TarReader, CountsEntriesAndBytesWithoutACallback) {
  const std::string archive = writerArchive();
  TarReader reader;
  ASSERT_TRUE(reader.feed(archive).has_value());
  ASSERT_TRUE(reader.finish().has_value());
  EXPECT_EQ(reader.entries(), 7u);
  EXPECT_EQ(reader.dataBytes(), 6u + 5u + 3u + (1u << 20));
  EXPECT_EQ(reader.bytesFed(), archive.size());
}

class TarReaderGnuTar : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-tar-reader-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    src_ = dir_ / "src";
    fs::create_directories(src_ / "dir");
    fs::permissions(src_ / "dir", fs::perms(0755));
    ASSERT_TRUE(writeFileAtomic(src_ / "dir" / "hello.txt", "hello\n", fs::perms(0640)).has_value());
    ASSERT_TRUE(writeFileAtomic(src_ / "dir" / longName_, "long", fs::perms(0644)).has_value());
    ASSERT_TRUE(writeFileAtomic(src_ / "big.bin", std::string(1 << 20, 'b'), fs::perms(0600)).has_value());
    fs::create_symlink("dir/hello.txt", src_ / "link");
    fs::create_hard_link(src_ / "dir" / "hello.txt", src_ / "hard");
    ASSERT_EQ(::mkfifo((src_ / "fifo").c_str(), 0600), 0);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string tar(std::string_view format) {
    const fs::path out = dir_ / (std::string(format) + ".tar");
    // Members named explicitly so that dir/hello.txt is archived before its hard link.
    const std::string command = "tar --format=" + std::string(format) + " -C '" + src_.string() + "' -cf '" +
                                out.string() + "' big.bin dir fifo hard link";
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    auto data = readFile(out);
    EXPECT_TRUE(data.has_value());
    return data.value_or("");
  }

  void expectEntries(const std::string& archive) {
    for (const std::size_t piece : {std::size_t{1}, std::size_t{7}, archive.size()}) {
      SCOPED_TRACE("pieces of " + std::to_string(piece));
      const auto entries = readAll(archive, piece);
      ASSERT_TRUE(entries.has_value()) << entries.error().message();
      const auto e = byPath(*entries);
      ASSERT_EQ(e.size(), 7u);
      const auto at = [&](const std::string& path) -> const TarEntry& {
        static const TarEntry missing{};
        const auto it = e.find(path);
        EXPECT_NE(it, e.end()) << path;
        return it == e.end() ? missing : it->second;
      };
      EXPECT_EQ(at("big.bin").type, '0');
      EXPECT_EQ(at("big.bin").size, 1u << 20);
      EXPECT_EQ(at("big.bin").mode & 07777, 0600u);
      EXPECT_EQ(at("big.bin").uid, ::getuid());
      EXPECT_EQ(at("big.bin").gid, ::getgid());
      struct stat st {};
      ASSERT_EQ(::stat((src_ / "big.bin").c_str(), &st), 0);
      EXPECT_EQ(at("big.bin").mtime, st.st_mtime);
      EXPECT_EQ(at("dir/").type, '5');
      EXPECT_EQ(at("dir/").mode & 07777, 0755u);
      EXPECT_EQ(at("dir/hello.txt").type, '0');
      EXPECT_EQ(at("dir/hello.txt").size, 6u);
      EXPECT_EQ(at("dir/hello.txt").mode & 07777, 0640u);
      EXPECT_EQ(at("dir/" + longName_).size, 4u);
      EXPECT_EQ(at("fifo").type, '6');
      EXPECT_EQ(at("hard").type, '1');
      EXPECT_EQ(at("hard").size, 0u);
      EXPECT_EQ(at("hard").linkTarget, "dir/hello.txt");
      EXPECT_EQ(at("link").type, '2');
      EXPECT_EQ(at("link").linkTarget, "dir/hello.txt");
    }
  }

  fs::path dir_;
  fs::path src_;
  const std::string longName_ = std::string(120, 'n') + ".txt";  // "dir/" + this: 128 bytes, no ustar split
};

TEST_F(TarReaderGnuTar, ReadsPaxArchives) {
  const std::string archive = tar("pax");
  ASSERT_FALSE(archive.empty());
  EXPECT_EQ(archive.size() % 10240, 0u);  // GNU tar pads to its record size with zeros
  EXPECT_THAT(archive, HasSubstr(" path=dir/" + longName_ + "\n"));  // the long name is a PAX record
  expectEntries(archive);
}

TEST_F(TarReaderGnuTar, ReadsGnuArchives) {
  const std::string archive = tar("gnu");
  ASSERT_FALSE(archive.empty());
  EXPECT_THAT(archive, HasSubstr("././@LongLink"));  // the long name is a GNU 'L' entry
  expectEntries(archive);
}

TEST(TarReader, AppliesPaxRecordsToTheNextEntryOnly) {
  const std::string records = paxRecord("path", "from/pax/" + std::string(200, 'l')) +
                              paxRecord("linkpath", "target\nwith a newline") +
                              paxRecord("uid", "4294967296") + paxRecord("gid", "70000") +
                              paxRecord("mtime", "1234567890.5") + paxRecord("atime", "1.0") +
                              paxRecord("SCHILY.xattr.user.x", std::string("a=b\0c", 5));
  const std::string archive = rawHeader("ignored", 'g', 25) + padded("25 comment=global header\n") +
                              paxHeader(records) + rawHeader("short", '2', 0, "short-target") +
                              rawHeader("plain", '0', 3) + padded("abc") + kEnd;
  const auto entries = readAll(archive, 7);
  ASSERT_TRUE(entries.has_value()) << entries.error().message();
  ASSERT_EQ(entries->size(), 2u);
  const auto& e = (*entries)[0];
  EXPECT_EQ(e.path, "from/pax/" + std::string(200, 'l'));
  EXPECT_EQ(e.type, '2');
  EXPECT_EQ(e.linkTarget, "target\nwith a newline");
  EXPECT_EQ(e.uid, 4294967296u);
  EXPECT_EQ(e.gid, 70000u);
  EXPECT_EQ(e.mtime, 1234567890);
  const auto& next = (*entries)[1];
  EXPECT_EQ(next.path, "plain");
  EXPECT_EQ(next.uid, 1000u);
  EXPECT_EQ(next.mtime, 1700000000);
  EXPECT_EQ(next.size, 3u);
}

TEST(TarReader, PaxSizeSaysHowMuchDataFollows) {
  const std::string archive = paxHeader(paxRecord("size", "600")) + rawHeader("f", '0', 0) +
                              padded(std::string(600, 'd')) + rawHeader("g", '0', 0) + kEnd;
  const auto entries = readAll(archive, 1);
  ASSERT_TRUE(entries.has_value()) << entries.error().message();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].size, 600u);
  EXPECT_EQ((*entries)[1].path, "g");
}

TEST(TarReader, EmptyPaxValueFallsBackToTheHeader) {
  const std::string archive = paxHeader(paxRecord("path", "pax-name")) + paxHeader("8 path=\n") +
                              rawHeader("header-name", '0', 0) + kEnd;
  const auto entries = readAll(archive, 512);
  ASSERT_TRUE(entries.has_value()) << entries.error().message();
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].path, "header-name");
}

TEST(TarReader, ReadsBase256NumbersAndSignedChecksums) {
  std::string h = rawHeader("caf\xc3\xa9", '0', 0);
  // uid 70000 and mtime -1 in GNU base-256.
  const std::string uid = std::string("\x80\0\0\0\0\x01\x11\x70", 8);
  uid.copy(h.data() + 108, 8);
  std::string(12, '\xff').copy(h.data() + 136, 12);
  seal(h, 0, /*signedSum=*/true);
  const auto entries = readAll(h + kEnd, 512);
  ASSERT_TRUE(entries.has_value()) << entries.error().message();
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].path, "caf\xc3\xa9");
  EXPECT_EQ((*entries)[0].uid, 70000u);
  EXPECT_EQ((*entries)[0].mtime, -1);
}

TEST(TarReader, SkipsOldGnuSparseMaps) {
  std::string sparse = rawHeader("sparse", 'S', 5);
  std::string("ustar  \0", 8).copy(sparse.data() + 257, 8);
  sparse[482] = 1;  // one extension block follows
  seal(sparse);
  std::string extension(512, '\0');
  extension[0] = '7';  // a sparse map entry; its content does not matter here
  const std::string archive = sparse + extension + padded("12345") + rawHeader("after", '0', 0) + kEnd;
  const auto entries = readAll(archive, 7);
  ASSERT_TRUE(entries.has_value()) << entries.error().message();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].type, 'S');
  EXPECT_EQ((*entries)[0].size, 5u);
  EXPECT_EQ((*entries)[1].path, "after");
}

TEST(TarReader, AcceptsZeroPaddingAndALoneZeroBlockAtTheEnd) {
  const std::string entry = rawHeader("f", '0', 1) + padded("x");
  EXPECT_TRUE(readAll(entry + kEnd + std::string(10240 - 2048, '\0'), 1000).has_value());
  EXPECT_TRUE(readAll(entry + std::string(512, '\0'), 512).has_value());
  EXPECT_TRUE(readAll(entry + std::string(700, '\0'), 512).has_value());
}

TEST(TarReader, CallbackErrorStopsTheReader) {
  const std::string archive = writerArchive();
  int seen = 0;
  TarReader reader([&](const TarEntry& e) -> Status {
    ++seen;
    if (e.path == "app/hello.txt") return fail(ErrorCode::Cancelled, "enough");
    return ok();
  });
  const Status first = reader.feed(archive);
  ASSERT_FALSE(first.has_value());
  EXPECT_EQ(first.error(), Error(ErrorCode::Cancelled, "enough"));
  EXPECT_EQ(seen, 2);
  EXPECT_EQ(reader.bytesFed(), 1024u);  // stopped right after the header
  EXPECT_EQ(reader.feed("more").error(), first.error());
  EXPECT_EQ(reader.finish().error(), first.error());
  EXPECT_EQ(seen, 2);
}

TEST(TarReader, RejectsABadChecksum) {
  std::string archive =
      rawHeader("a", '0', 100) + padded(std::string(100, 'a')) + rawHeader("b", '0', 0) + kEnd;
  archive[1024] = 'c';
  EXPECT_EQ(errorOf(archive), "not a tar archive: bad header checksum at byte 1024");
  EXPECT_EQ(errorOf(std::string(1024, 'x')), "not a tar archive: bad header checksum at byte 0");
  EXPECT_EQ(errorOf(std::string("\x1f\x8b\x08\0", 4) + std::string(1020, 'z')),
            "not a tar archive: the stream is gzip-compressed (decompress it first)");
}

TEST(TarReader, RejectsTruncatedArchives) {
  const std::string archive =
      rawHeader("a", '0', 100) + padded(std::string(100, 'a')) + rawHeader("b", '0', 0) + kEnd;
  EXPECT_EQ(errorOf(archive.substr(0, 1024 + 100), 7),
            "the archive is truncated: it ends inside the header at byte 1024 (100 of 512 bytes)");
  EXPECT_EQ(errorOf(archive.substr(0, 600), 1),
            "the archive is truncated: it ends inside the data of a (88 of 100 bytes)");
  EXPECT_EQ(errorOf(archive.substr(0, 700)),
            "the archive is truncated: it ends inside the padding after the data of a");
  EXPECT_EQ(
      errorOf(archive.substr(0, 1536)),
      "the archive is truncated: it ends at byte 1536, after the last entry (b), without the end-of-archive "
      "marker");
  EXPECT_EQ(errorOf(""), "not a tar archive: the stream is empty");

  TarWriter w;
  w.addFile("volume/big.bin", std::string(4 << 20, 'b'));
  const std::string big = w.finish();
  EXPECT_EQ(errorOf(big.substr(0, 512 + (1 << 20)), 65536),
            "the archive is truncated: it ends inside the data of volume/big.bin (1048576 of 4194304 bytes)");

  const std::string pax = paxHeader(paxRecord("path", "p"));
  EXPECT_EQ(errorOf(pax.substr(0, 520)),
            "the archive is truncated: it ends inside the PAX extended header at byte 0 (8 of 9 bytes)");
  EXPECT_EQ(errorOf(pax),
            "the archive is truncated: it ends after the extended header at byte 0, before the entry it "
            "describes");
  EXPECT_EQ(
      errorOf(pax + kEnd),
      "bad tar archive: the extended header at byte 0 is followed by the end of the archive (a zero block at "
      "byte 1024), not by an entry");
}

TEST(TarReader, RejectsGarbageAfterTheEnd) {
  const std::string archive = rawHeader("a", '0', 0) + kEnd;
  EXPECT_EQ(errorOf(archive + std::string("\0\0\0x", 4), 1),
            "garbage after the end of the archive: a non-zero byte at byte 1539 (only zeros may follow the "
            "end-of-archive marker)");
  EXPECT_EQ(
      errorOf(rawHeader("a", '0', 0) + std::string(512, '\0') + rawHeader("b", '0', 0) + kEnd),
      "bad tar archive: a header at byte 1024 follows a lone zero block at byte 512 (two zero blocks end an "
      "archive; one is not allowed inside it)");
}

TEST(TarReader, RejectsBadNumericFields) {
  std::string h = rawHeader("a", '0', 0);
  std::string("00000001x00", 11).copy(h.data() + 124, 11);
  seal(h);
  EXPECT_THAT(errorOf(h + kEnd),
              HasSubstr("bad tar header at byte 0: the size field is not a valid size (\"00000001x00"));

  // Base-256 sizes: beyond 2^63, near 2^64, negative.
  for (const std::string& size :
       {std::string("\x80\0\0\0\x80\0\0\0\0\0\0\0", 12), std::string(1, '\x80') + std::string(11, '\xff'),
        std::string(12, '\xff')}) {
    std::string big = rawHeader("a", '0', 0);
    size.copy(big.data() + 124, 12);
    seal(big);
    EXPECT_THAT(errorOf(big + kEnd),
                HasSubstr("bad tar header at byte 0: the size field is not a valid size"));
  }

  std::string mode = rawHeader("a", '0', 0);
  std::string("0-644\0\0", 8).copy(mode.data() + 100, 8);
  seal(mode);
  EXPECT_THAT(errorOf(mode + kEnd), HasSubstr("bad tar header at byte 0: the mode field is not a number"));

  // The largest base-256 size is accepted as a header; the data is then missing.
  std::string huge = rawHeader("huge", '0', 0);
  (std::string(1, '\x80') + std::string(3, '\0') + std::string(1, '\x7f') + std::string(7, '\xff'))
      .copy(huge.data() + 124, 12);
  seal(huge);
  EXPECT_EQ(errorOf(huge + kEnd),
            "the archive is truncated: it ends inside the data of huge (1024 of 9223372036854775807 bytes)");
}

TEST(TarReader, RejectsMalformedPaxRecords) {
  const auto paxError = [](const std::string& records) {
    return errorOf(paxHeader(records) + rawHeader("a", '0', 0) + kEnd, 7);
  };
  EXPECT_EQ(paxError("12 path=abc\n"), "(no error)");
  EXPECT_EQ(paxError("13 path=abc\n"),
            "bad PAX extended header at byte 0: the record at byte 512 does not start with a valid length");
  EXPECT_EQ(paxError("11 path=abc\n"),
            "bad PAX extended header at byte 0: the record at byte 512 does not end with a newline where its "
            "length "
            "says");
  EXPECT_EQ(paxError("12 path=abc\n99999999999999999999999 x=y\n"),
            "bad PAX extended header at byte 0: the record at byte 524 does not start with a valid length");
  EXPECT_THAT(paxError("0 path=abc\n"), HasSubstr("does not start with a valid length"));
  EXPECT_THAT(paxError("-5 path=abc\n"), HasSubstr("does not start with a valid length"));
  EXPECT_THAT(paxError("path=abc\n"), HasSubstr("does not start with a valid length"));
  EXPECT_THAT(paxError("6 =ab\n"), HasSubstr("is not key=value"));
  EXPECT_THAT(paxError("9 nokey\n\n"), HasSubstr("is not key=value"));
  EXPECT_THAT(paxError(paxRecord("size", "18446744073709551615")), HasSubstr("has an invalid size"));
  EXPECT_THAT(paxError(paxRecord("size", "-1")), HasSubstr("has an invalid size"));
  EXPECT_THAT(paxError(paxRecord("uid", "12a")), HasSubstr("has an invalid uid"));
  EXPECT_THAT(paxError(paxRecord("mtime", "1.2.3")), HasSubstr("has an invalid mtime"));
  EXPECT_THAT(paxError(paxRecord("path", std::string("a\0b", 3))), HasSubstr("has a NUL byte in a path"));

  // An extended header is held while it is read, so its size is bounded.
  EXPECT_EQ(errorOf(rawHeader("PaxHeader", 'x', (1 << 20) + 1) + kEnd),
            "bad tar header at byte 0: an extended header of 1048577 bytes (at most 1048576 are accepted)");
}

// Hostile input: random bytes in the headers and PAX records, with checksums made right so the
// damage reaches the field parsers. Every outcome must be an answer (entries or InvalidArgument).
TEST(TarReader, SurvivesDamagedHeaders) {
  const std::string original = paxHeader(paxRecord("path", "some/path") + paxRecord("size", "700")) +
                               rawHeader("a", '0', 0) + padded(std::string(700, 'd')) + kEnd;
  std::mt19937 random(42);
  std::uniform_int_distribution<std::size_t> position(0, 1535);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 5000; ++round) {
    std::string archive = original;
    for (int i = 0; i < 3; ++i) archive[position(random)] = static_cast<char>(byte(random));
    seal(archive, 0);
    seal(archive, 1024);
    TarReader reader;
    Status status = reader.feed(archive);
    if (status.has_value()) status = reader.finish();
    if (!status.has_value()) {
      EXPECT_EQ(status.error().code(), ErrorCode::InvalidArgument) << status.error().message();
    }
    EXPECT_LE(reader.bytesFed(), archive.size());
  }
}

}  // namespace
}  // namespace berth
