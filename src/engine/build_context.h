// Build contexts as `docker build` sends them: a directory packed into a tar, minus what its
// .dockerignore excludes (the Dockerfile and .dockerignore themselves are always sent), for
// Engine::buildImage. Pattern rules are moby's (github.com/moby/patternmatcher): one pattern per
// line, '#' comments, '!' re-includes, '*' and '?' within a path segment, '**' across segments, a
// pattern that matches a directory excludes everything below it.
//
// Thread-safety: plain values and functions; buildContextTar reads the file system.
#pragma once

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

// Packs `directory`. `dockerfile` is relative to the directory or absolute (a Dockerfile outside the
// context is added under a name of its own); `dockerfileInline` (non-empty) replaces it. Errors
// name the path that could not be read.
Result<BuildContext> buildContextTar(const std::string& directory, const std::string& dockerfile,
                                     const std::string& dockerfileInline = {});

}  // namespace berth::engine
