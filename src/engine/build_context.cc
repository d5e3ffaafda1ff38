#include "engine/build_context.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <system_error>

#include "base/files.h"
#include "base/strings.h"
#include "base/tar_writer.h"

namespace berth::engine {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kOutsideDockerfile = ".berth-dockerfile";

// filepath.Clean for '/'-separated relative paths: no "." segments, no empty segments, ".." folded.
std::string cleanPath(std::string_view path) {
  std::vector<std::string> out;
  for (const std::string& part : split(path, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!out.empty() && out.back() != "..") {
        out.pop_back();
        continue;
      }
    }
    out.push_back(part);
  }
  std::string joined = join(out, "/");
  return joined.empty() ? "." : joined;
}

// A .dockerignore pattern, matched the way moby/patternmatcher matches it (which translates patterns
// into anchored regular expressions): '*' and '?' stay within a path segment, "**" spans segments
// ("**/" = any number of leading directories, "**" at the end = anything), "[...]" is a character
// class ("[^...]" negated, ranges with '-'), '\' escapes the next character. A malformed class makes
// the whole pattern match nothing. Matched directly rather than through std::regex, whose GCC 12
// headers do not build warning-free in the sanitizer build.
struct GlobToken {
  enum class Kind { Literal, AnyChar, Star, AnySegments, Anything, Class };
  Kind kind = Kind::Literal;
  char c = 0;
  bool negated = false;
  std::vector<std::pair<char, char>> ranges{};  // Class: inclusive ranges (single chars as c-c)
};

// Tokens of `p`, or nullopt for a pattern that can never match.
std::optional<std::vector<GlobToken>> compileGlob(std::string_view p) {
  std::vector<GlobToken> out;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '*') {
      if (i + 1 < p.size() && p[i + 1] == '*') {
        ++i;
        if (i + 1 < p.size() && p[i + 1] == '/') ++i;
        out.push_back({i + 1 >= p.size() ? GlobToken::Kind::Anything : GlobToken::Kind::AnySegments});
      } else {
        out.push_back({GlobToken::Kind::Star});
      }
    } else if (c == '?') {
      out.push_back({GlobToken::Kind::AnyChar});
    } else if (c == '\\') {
      out.push_back({GlobToken::Kind::Literal, i + 1 < p.size() ? p[++i] : '\\'});
    } else if (c == '[') {
      GlobToken t{GlobToken::Kind::Class};
      std::size_t j = i + 1;
      if (j < p.size() && p[j] == '^') {
        t.negated = true;
        ++j;
      }
      bool closed = false;
      while (j < p.size()) {
        char lo = p[j];
        if (lo == ']') {
          closed = true;
          break;
        }
        if (lo == '\\' && j + 1 < p.size()) lo = p[++j];
        char hi = lo;
        if (j + 2 < p.size() && p[j + 1] == '-' && p[j + 2] != ']') {
          hi = p[j + 2];
          j += 2;
          if (hi == '\\' && j + 1 < p.size()) hi = p[++j];
          if (hi < lo) return std::nullopt;  // "[z-a]" is malformed
        }
        t.ranges.emplace_back(lo, hi);
        ++j;
      }
      if (!closed) return std::nullopt;
      i = j;
      out.push_back(std::move(t));
    } else {
      out.push_back({GlobToken::Kind::Literal, c});
    }
  }
  return out;
}

bool classMatches(const GlobToken& t, char c) {
  bool in = false;
  for (const auto& [lo, hi] : t.ranges) in = in || (lo <= c && c <= hi);
  return in != t.negated;
}

// Whether the tokens match all of `s`: dynamic programming over (token, position), so no pattern is
// exponential.
bool globMatch(const std::vector<GlobToken>& tokens, std::string_view s) {
  // can[j] = the tokens so far can match exactly s[0, j).
  std::vector<char> can(s.size() + 1, 0), next(s.size() + 1, 0);
  can[0] = 1;
  for (const GlobToken& t : tokens) {
    std::fill(next.begin(), next.end(), 0);
    for (std::size_t j = 0; j <= s.size(); ++j) {
      if (!can[j]) continue;
      switch (t.kind) {
        case GlobToken::Kind::Literal:
          if (j < s.size() && s[j] == t.c) next[j + 1] = 1;
          break;
        case GlobToken::Kind::AnyChar:
          if (j < s.size() && s[j] != '/') next[j + 1] = 1;
          break;
        case GlobToken::Kind::Class:
          if (j < s.size() && s[j] != '/' && classMatches(t, s[j])) next[j + 1] = 1;
          break;
        case GlobToken::Kind::Star:
          for (std::size_t k = j; k <= s.size(); ++k) {
            next[k] = 1;
            if (k < s.size() && s[k] == '/') break;
          }
          break;
        case GlobToken::Kind::AnySegments:  // (.*/)?
          next[j] = 1;
          for (std::size_t k = j; k < s.size(); ++k) {
            if (s[k] == '/') next[k + 1] = 1;
          }
          break;
        case GlobToken::Kind::Anything:
          for (std::size_t k = j; k <= s.size(); ++k) next[k] = 1;
          break;
      }
    }
    can.swap(next);
  }
  return can[s.size()] != 0;
}

}  // namespace

IgnorePatterns IgnorePatterns::parse(std::string_view text) {
  IgnorePatterns out;
  for (std::string line : split(text, '\n')) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty() && line.front() == '#') continue;
    std::string_view t = trim(line);
    if (t.empty()) continue;
    Pattern p;
    if (t.front() == '!') {
      p.exclusion = true;
      t = trim(t.substr(1));
      if (t.empty()) continue;
    }
    std::string cleaned = cleanPath(t);
    if (cleaned.size() > 1 && cleaned.front() == '/') cleaned.erase(0, 1);
    p.text = cleaned;
    out.patterns_.push_back(std::move(p));
  }
  return out;
}

bool IgnorePatterns::hasExceptions() const {
  return std::any_of(patterns_.begin(), patterns_.end(), [](const Pattern& p) { return p.exclusion; });
}

bool IgnorePatterns::excluded(std::string_view path) const {
  const std::string file = cleanPath(path);
  const auto slash = file.rfind('/');
  const std::string parent = slash == std::string::npos ? "." : file.substr(0, slash);
  const std::vector<std::string> parentDirs = split(parent, '/');
  bool matched = false;
  for (const Pattern& p : patterns_) {
    if (p.exclusion != matched) continue;
    const auto tokens = compileGlob(p.text);
    if (!tokens) continue;  // malformed: matches nothing, as in moby
    bool match = globMatch(*tokens, file);
    if (!match && parent != ".") {
      std::string prefix;
      for (const std::string& dir : parentDirs) {
        prefix += (prefix.empty() ? "" : "/") + dir;
        if (globMatch(*tokens, prefix)) {
          match = true;
          break;
        }
      }
    }
    if (match) matched = !p.exclusion;
  }
  return matched;
}

Result<BuildContextSource> openBuildContext(const std::string& directory, const std::string& dockerfile,
                                           const std::string& dockerfileInline) {
  std::error_code ec;
  const fs::path root = fs::absolute(directory, ec);
  if (ec || !fs::is_directory(root, ec)) {
    return fail(ErrorCode::NotFound, "build context " + directory + ": not a directory");
  }
  BuildContextSource out;
  out.root_ = root;
  if (!dockerfileInline.empty()) {
    out.dockerfile_ = std::string(kOutsideDockerfile);
    out.outsideDockerfile_ = dockerfileInline;
  } else {
    const fs::path df = fs::path(dockerfile).is_absolute() ? fs::path(dockerfile) : root / dockerfile;
    const fs::path rel = fs::path(df).lexically_normal().lexically_relative(root.lexically_normal());
    if (rel.empty() || startsWith(rel.generic_string(), "..")) {
      BERTH_ASSIGN_OR_RETURN(out.outsideDockerfile_, readFile(df));
      out.dockerfile_ = std::string(kOutsideDockerfile);
    } else {
      out.dockerfile_ = rel.generic_string();
      if (!fs::is_regular_file(df, ec)) {
        return fail(ErrorCode::NotFound,
                    "build context " + directory + ": Dockerfile " + df.string() + " not found");
      }
    }
  }

  IgnorePatterns ignore;
  if (fs::is_regular_file(root / ".dockerignore", ec)) {
    BERTH_ASSIGN_OR_RETURN(const std::string text, readFile(root / ".dockerignore"));
    ignore = IgnorePatterns::parse(text);
  }
  const bool walkExcluded = ignore.hasExceptions();

  // Walk in sorted order so the same directory always gives the same archive.
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec);
  if (ec) return fail(ErrorCode::PermissionDenied, "build context " + directory + ": " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return fail(ErrorCode::PermissionDenied, "build context " + directory + ": " + ec.message());
    const fs::path rel = it->path().lexically_relative(root);
    const std::string name = rel.generic_string();
    const fs::file_status st = it->symlink_status(ec);
    if (ec)
      return fail(ErrorCode::PermissionDenied, "build context: " + it->path().string() + ": " + ec.message());
    const bool always = name == out.dockerfile_ || name == ".dockerignore";
    if (!always && ignore.excluded(name)) {
      if (fs::is_directory(st) && !walkExcluded) it.disable_recursion_pending();
      continue;
    }
    out.entries_.push_back(BuildContextSource::Entry{name, st});
  }
  std::sort(out.entries_.begin(), out.entries_.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

Status BuildContextSource::writeTo(const PieceSink& sink) const {
  constexpr std::size_t kPiece = 256 * 1024;
  TarWriter tar;
  const auto flush = [&]() -> Status {
    if (tar.size() == 0) return ok();
    return sink(tar.take());
  };
  std::string buffer;
  std::error_code ec;
  for (const Entry& e : entries_) {
    const fs::path full = root_ / e.name;
    const auto mode = static_cast<unsigned>(e.status.permissions()) & 07777;
    if (fs::is_symlink(e.status)) {
      tar.addSymlink(e.name, fs::read_symlink(full, ec).string());
    } else if (fs::is_directory(e.status)) {
      tar.addDirectory(e.name, mode);
    } else if (fs::is_regular_file(e.status)) {
      std::ifstream in(full, std::ios::binary);
      const auto size = fs::file_size(full, ec);
      if (!in || ec) return fail(ErrorCode::PermissionDenied, "build context: cannot read " + full.string());
      tar.beginFile(e.name, size, mode);
      BERTH_TRY(flush());
      std::uint64_t left = size;
      buffer.resize(kPiece);
      while (left > 0) {
        const auto n = static_cast<std::streamsize>(std::min<std::uint64_t>(left, kPiece));
        in.read(buffer.data(), n);
        if (in.gcount() != n) {
          return fail(ErrorCode::Unavailable, "build context: " + full.string() + " changed while it was read");
        }
        BERTH_TRY(sink(std::string_view(buffer.data(), static_cast<std::size_t>(n))));
        left -= static_cast<std::uint64_t>(n);
      }
      tar.endFile(size);
    }
    // Sockets, devices and FIFOs are not sent (docker skips them too).
    if (tar.size() >= kPiece) BERTH_TRY(flush());
  }
  if (!outsideDockerfile_.empty()) tar.addFile(kOutsideDockerfile, outsideDockerfile_, 0644);
  return sink(tar.finish());
}

Result<BuildContext> buildContextTar(const std::string& directory, const std::string& dockerfile,
                                     const std::string& dockerfileInline) {
  BERTH_ASSIGN_OR_RETURN(const BuildContextSource source, openBuildContext(directory, dockerfile, dockerfileInline));
  BuildContext out;
  out.dockerfile = source.dockerfile();
  BERTH_TRY(source.writeTo([&](std::string_view piece) -> Status {
    out.tar += piece;
    return ok();
  }));
  return out;
}

}  // namespace berth::engine
