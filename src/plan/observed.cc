#include "plan/observed.h"

#include <algorithm>
#include <charconv>
#include <tuple>

#include "base/strings.h"
#include "engine/image_reference.h"
#include "plan/labels.h"

namespace berth::plan {
namespace {

std::string label(const engine::Labels& labels, std::string_view key) {
  auto it = labels.find(std::string(key));
  return it == labels.end() ? std::string() : it->second;
}

int parseNumber(std::string_view text) {
  int n = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr != text.data() + text.size() || n < 0) return 0;
  return n;
}

}  // namespace

bool ObservedContainer::running() const {
  switch (state) {
    case engine::ContainerStatus::Running:
    case engine::ContainerStatus::Paused:
    case engine::ContainerStatus::Restarting:
      return true;
    case engine::ContainerStatus::Created:
    case engine::ContainerStatus::Removing:
    case engine::ContainerStatus::Exited:
    case engine::ContainerStatus::Dead:
    case engine::ContainerStatus::Unknown:
      return false;
  }
  return false;
}

std::vector<const ObservedContainer*> Observed::serviceContainers(std::string_view service) const {
  std::vector<const ObservedContainer*> out;
  for (const ObservedContainer& c : containers) {
    if (c.service == service && !c.oneOff) out.push_back(&c);
  }
  return out;
}

const ObservedImage* Observed::image(std::string_view reference) const {
  auto it = images.find(engine::normalizeImageReference(reference));
  return it == images.end() ? nullptr : &it->second;
}

ObservedContainer observedContainer(const engine::ContainerSummary& s) {
  ObservedContainer c;
  c.id = s.id;
  c.name = s.names.empty() ? s.id : s.names.front();
  if (startsWith(c.name, "/")) c.name.erase(0, 1);
  c.service = label(s.labels, labels::kService);
  c.number = parseNumber(label(s.labels, labels::kContainerNumber));
  c.oneOff = label(s.labels, labels::kOneOff) == "True";
  c.configHash = label(s.labels, labels::kConfigHash);
  c.image = s.image;
  c.imageId = s.imageId;
  c.state = s.state;
  c.status = s.status;
  c.command = s.command;
  c.created = s.created;
  c.labels = s.labels;
  c.mounts = s.mounts;
  c.ports = s.ports;
  for (const auto& [name, endpoint] : s.networks) c.networks.push_back(name);
  c.networkMode = s.networkMode;
  return c;
}

Observed observedFrom(std::string project, const std::vector<engine::ContainerSummary>& containers,
                      const std::vector<engine::Network>& networks,
                      const std::vector<engine::Volume>& volumes,
                      const std::vector<engine::ImageSummary>& images,
                      const std::vector<std::string>& wantedImages) {
  Observed o;
  o.project = std::move(project);
  for (const engine::ContainerSummary& s : containers) {
    if (label(s.labels, labels::kProject) != o.project) continue;
    o.containers.push_back(observedContainer(s));
  }
  std::sort(o.containers.begin(), o.containers.end(),
            [](const ObservedContainer& a, const ObservedContainer& b) {
              return std::tie(a.service, a.oneOff, a.number, a.name) <
                     std::tie(b.service, b.oneOff, b.number, b.name);
            });
  for (const engine::Network& n : networks) {
    o.networks[n.name] = ObservedNetwork{n.id, n.name, n.driver, n.internal, n.labels};
  }
  for (const engine::Volume& v : volumes) o.volumes[v.name] = ObservedVolume{v.name, v.driver, v.labels};
  std::vector<std::string> wanted;
  for (const std::string& w : wantedImages) wanted.push_back(engine::normalizeImageReference(w));
  for (const engine::ImageSummary& img : images) {
    for (const std::string& tag : img.repoTags) {
      const std::string norm = engine::normalizeImageReference(tag);
      if (std::find(wanted.begin(), wanted.end(), norm) == wanted.end()) continue;
      o.images[norm] = ObservedImage{img.id, img.repoTags, img.size, img.created};
    }
    for (const std::string& digest : img.repoDigests) {
      if (std::find(wanted.begin(), wanted.end(), digest) == wanted.end()) continue;
      o.images[digest] = ObservedImage{img.id, img.repoTags, img.size, img.created};
    }
  }
  return o;
}

}  // namespace berth::plan
