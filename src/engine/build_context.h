// Build contexts as `docker build` sends them: a directory packed into a tar, minus what its
// .dockerignore excludes (the Dockerfile and .dockerignore themselves are always sent), for
// Engine::buildImage. Pattern rules are moby's (github.com/moby/patternmatcher): one pattern per
// line, '#' comments, '!' re-includes, '*' and '?' within a path segment, '**' across segments, a
// pattern that matches a directory excludes everything below it.
//
// Thread-safety: plain values and functions; buildContextTar reads the file system.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::engine {

class IgnorePatterns {
 public:
  // Parses .dockerignore text (never fails: a pattern that cannot match just never matches).
  static IgnorePatterns parse(std::string_view text);

  // Whether `path` (relative to the context, '/'-separated) is excluded.
  bool excluded(std::string_view path) const;
  // Whether any pattern re-includes ('!'), so an excluded directory must still be walked.
  bool hasExceptions() const;
  bool empty() const { return patterns_.empty(); }

 private:
  struct Pattern {
    std::string text;  // cleaned; matched as moby/patternmatcher does (build_context.cc)
    bool exclusion = false;
  };
  std::vector<Pattern> patterns_;
};

struct BuildContext {
  std::string tar;
  // The Dockerfile's path inside the tar (as BuildOptions::dockerfile wants it).
  std::string dockerfile;
};

// Receives the next piece of a stream; an error stops the stream with it.
using PieceSink = std::function<Status(std::string_view piece)>;

// A build context ready to be sent: checked and walked (the file list, in sorted order, is all it
// holds), its tar produced piece by piece as writeTo() reads the files, so a context of any size
// passes through a few hundred KiB of memory.
class BuildContextSource {
 public:
  // The Dockerfile's path inside the tar (as BuildOptions::dockerfile wants it).
  const std::string& dockerfile() const { return dockerfile_; }
  // Writes the tar to `sink`: headers and file contents in pieces of at most 256 KiB. Errors name
  // the file that could not be read (or changed size while it was read); the sink's are returned
  // as they are.
  Status writeTo(const PieceSink& sink) const;

 private:
  friend Result<BuildContextSource> openBuildContext(const std::string&, const std::string&, const std::string&);
  struct Entry {
    std::string name;
    std::filesystem::file_status status;
  };
  std::filesystem::path root_;
  std::string dockerfile_;
  std::string outsideDockerfile_;  // a Dockerfile from outside the context, or an inline one
  std::vector<Entry> entries_;
};

// Checks and walks `directory` as buildContextTar does, without reading the files yet.
Result<BuildContextSource> openBuildContext(const std::string& directory, const std::string& dockerfile,
                                           const std::string& dockerfileInline = {});

// Packs `directory` into one tar in memory (openBuildContext + writeTo). `dockerfile` is relative to the directory or absolute (a Dockerfile outside the
// context is added under a name of its own); `dockerfileInline` (non-empty) replaces it. Errors
// name the path that could not be read.
Result<BuildContext> buildContextTar(const std::string& directory, const std::string& dockerfile,
                                     const std::string& dockerfileInline = {});

}  // namespace berth::engine
