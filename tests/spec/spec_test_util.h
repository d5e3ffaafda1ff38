// Helpers for the spec tests: a temporary project directory with files, and loading from it.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "spec/loader.h"
#include "spec/render.h"

namespace berth::spec::testing {

// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempProject {
 public:
  TempProject() {
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("berth-spec-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "proj");
    dir_ = dir_ / "proj";
  }
  ~TempProject() {
    std::error_code ec;
    std::filesystem::remove_all(dir_.parent_path(), ec);
  }
  TempProject(const TempProject&) = delete;
  TempProject& operator=(const TempProject&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  std::string path(const std::string& rel) const { return (dir_ / rel).string(); }

  TempProject& write(const std::string& rel, const std::string& content) {
    const std::filesystem::path p = dir_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return *this;
  }

  // load() of the given files with this directory as project directory.
  Result<Project> load(const std::vector<std::string>& files, const LoadOptions& options = {},
                       Environment env = {}, std::optional<std::string> name = "test") const {
    ConfigDetails d;
    for (const auto& f : files) d.files.push_back(path(f));
    d.workingDir = dir_.string();
    d.environment = std::move(env);
    d.projectName = std::move(name);
    return spec::load(d, options);
  }

  // loadProject() as the CLI would, with this directory as the current directory.
  Result<Project> loadCli(ProjectOptions options) const {
    options.currentDirectory = dir_.string();
    return loadProject(options);
  }

 private:
  std::filesystem::path dir_;
};

// A project loaded from `yaml` held in memory (no file is read), named `name`, whose directory is
// `dir` (default /berth-test/NAME). A load error fails the test and gives an empty project.
inline Project projectFromMemory(const std::string& yaml, const std::string& name, std::string dir = {}) {
  if (dir.empty()) dir = "/berth-test/" + name;
  ConfigDetails details;
  details.files = {dir + "/compose.yaml"};
  details.workingDir = dir;
  details.projectName = name;
  details.contents[dir + "/compose.yaml"] = yaml;
  auto p = spec::load(details, {});
  if (!p) {
    ADD_FAILURE() << "load: " << p.error().message();
    return Project{};
  }
  return std::move(*p);
}

// Loads a single compose.yaml text with the default options and project name "test".
inline Result<Project> loadYaml(const std::string& yaml, const LoadOptions& options = {},
                                Environment env = {}) {
  TempProject p;
  p.write("compose.yaml", yaml);
  return p.load({"compose.yaml"}, options, std::move(env));
}

// The error message of a load that must fail ("" and a test failure when it succeeds).
inline std::string loadError(const std::string& yaml, const LoadOptions& options = {}, Environment env = {}) {
  auto r = loadYaml(yaml, options, std::move(env));
  if (r) {
    ADD_FAILURE() << "expected the load to fail";
    return "";
  }
  return r.error().message();
}

}  // namespace berth::spec::testing
