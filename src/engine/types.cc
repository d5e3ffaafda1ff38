#include "engine/types.h"

namespace berth::engine {

std::string_view outputStreamName(OutputStream stream) {
  switch (stream) {
    case OutputStream::Stdin:
      return "stdin";
    case OutputStream::Stdout:
      return "stdout";
    case OutputStream::Stderr:
      return "stderr";
    case OutputStream::System:
      return "system";
  }
  return "?";
}

std::string_view containerStatusName(ContainerStatus status) {
  switch (status) {
    case ContainerStatus::Created:
      return "created";
    case ContainerStatus::Running:
      return "running";
    case ContainerStatus::Paused:
      return "paused";
    case ContainerStatus::Restarting:
      return "restarting";
    case ContainerStatus::Removing:
      return "removing";
    case ContainerStatus::Exited:
      return "exited";
    case ContainerStatus::Dead:
      return "dead";
    case ContainerStatus::Unknown:
      return "unknown";
  }
  return "unknown";
}

std::string_view healthStatusName(HealthStatus status) {
  switch (status) {
    case HealthStatus::None:
      return "none";
    case HealthStatus::Starting:
      return "starting";
    case HealthStatus::Healthy:
      return "healthy";
    case HealthStatus::Unhealthy:
      return "unhealthy";
  }
  return "none";
}

}  // namespace berth::engine
