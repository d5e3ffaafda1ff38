// libFuzzer target over the compose loader: arbitrary bytes as a compose file (plus, when the input
// contains a "\n#---\n" line, a second file that overrides the first and may be extended or
// included by it), loaded with interpolation, merge, extends, include, validation, normalization and
// consistency checks. Whatever loads must also print and load back (YAML round trip) and hash.
// Nothing may crash, hang, leak or trip a sanitizer.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "base/check.h"
#include "spec/hash.h"
#include "spec/loader.h"
#include "spec/render.h"

namespace {

namespace fs = std::filesystem;

const fs::path& workDir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("berth-fuzz-spec-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

void write(const fs::path& p, std::string_view content) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view first = input;
  std::string_view second;
  if (const std::size_t split = input.find("\n#---\n"); split != std::string_view::npos) {
    first = input.substr(0, split);
    second = input.substr(split + 6);
  }
  write(workDir() / "compose.yaml", first);
  write(workDir() / "other.yaml", second);
  write(workDir() / ".env", "FROM_DOTENV=1\n");

  berth::spec::ConfigDetails details;
  details.files = {"compose.yaml"};
  if (!second.empty()) details.files.push_back("other.yaml");
  details.workingDir = workDir().string();
  details.environment = {{"HOME", "/home/fuzz"}, {"TAG", "1.0"}, {"EMPTY", ""}};
  details.defaultProjectName = "fuzz";

  berth::spec::LoadOptions options;
  auto project = berth::spec::load(details, options);
  if (!project) {
    BERTH_CHECK(!project.error().message().empty());
    return 0;
  }
  for (const auto& [name, service] : project->services) {
    BERTH_CHECK(berth::spec::serviceConfigHash(*project, service).size() == 64);
  }
  (void)berth::spec::renderJson(*project);

  // What berth prints must load again (without re-interpolating printed values) to the same model.
  const std::string printed = berth::spec::renderYaml(*project);
  write(workDir() / "printed.yaml", printed);
  berth::spec::ConfigDetails again = details;
  again.files = {"printed.yaml"};
  berth::spec::LoadOptions reload = options;
  reload.interpolate = false;
  auto back = berth::spec::load(again, reload);
  BERTH_CHECK_MSG(back.has_value(), "printed YAML does not load: " +
                                        (back ? std::string() : back.error().message()) + "\n" + printed);
  BERTH_CHECK_MSG(berth::spec::renderYaml(*back) == printed, "round trip changed the model:\n" + printed);
  return 0;
}
