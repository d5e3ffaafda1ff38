// The labels compose tools put on the engine objects of a project. berth writes the same ones as
// `docker compose` v2 (and the subset docker-compose 1.29 reads), so each tool finds, lists and
// manages the other's containers, networks and volumes for the same file.
#pragma once

#include <string_view>

namespace berth::plan::labels {

inline constexpr std::string_view kProject = "com.docker.compose.project";
inline constexpr std::string_view kService = "com.docker.compose.service";
inline constexpr std::string_view kContainerNumber = "com.docker.compose.container-number";
inline constexpr std::string_view kConfigHash = "com.docker.compose.config-hash";
inline constexpr std::string_view kOneOff = "com.docker.compose.oneoff";  // "True" / "False"
inline constexpr std::string_view kWorkingDir = "com.docker.compose.project.working_dir";
inline constexpr std::string_view kConfigFiles = "com.docker.compose.project.config_files";
inline constexpr std::string_view kDependsOn = "com.docker.compose.depends_on";
inline constexpr std::string_view kImage = "com.docker.compose.image";
inline constexpr std::string_view kVersion = "com.docker.compose.version";
inline constexpr std::string_view kNetwork = "com.docker.compose.network";
inline constexpr std::string_view kVolume = "com.docker.compose.volume";
// One-off containers (`run`): a random ID that docker-compose 1.29 shows in their short name.
inline constexpr std::string_view kSlug = "com.docker.compose.slug";
// Set on a container that replaces another during recreation (its ID), as compose v2 does.
inline constexpr std::string_view kReplace = "com.docker.compose.replace";

}  // namespace berth::plan::labels
