// berth_raw_floor: the least a compose runner must ask an engine for a project of identical
// containers — no compose file, no planning, no progress output — issued directly through berth's
// engine client with the same parallelism berth uses. bench/run times it next to berth and
// docker-compose.
//
//   berth_raw_floor ENGINE_URL PROJECT SERVICES REPLICAS up|noop|ps|down [PARALLELISM]
//     up    create the network, then create and start every container (N workers)
//     noop  the observation an up with nothing to do needs: containers, networks, volumes and
//           images of the project, listed side by side
//     ps    list the project's containers
//     down  list them, stop and remove them (N workers), remove the network
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "parallel.h"
#include "engine/endpoint.h"
#include "engine/engine.h"

namespace {

using namespace berth;

engine::Filters projectFilter(const std::string& project) {
  return {{"label", {"com.docker.compose.project=" + project}}};
}

int die(const Error& e) {
  std::cerr << "berth_raw_floor: " << e.message() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::cerr
        << "usage: berth_raw_floor ENGINE_URL PROJECT SERVICES REPLICAS up|noop|ps|down [PARALLELISM]\n";
    return 2;
  }
  const std::string url = argv[1];
  const std::string project = argv[2];
  const int services = std::atoi(argv[3]);
  const int replicas = std::atoi(argv[4]);
  const std::string op = argv[5];
  const int parallelism = argc > 6 ? std::atoi(argv[6]) : 8;
  auto endpoint = engine::parseEndpoint(url);
  if (!endpoint) return die(endpoint.error());
  auto made = engine::makeEngine(*endpoint);
  if (!made) return die(made.error());
  engine::Engine& e = **made;
  const std::string network = project + "_default";

  if (op == "up") {
    engine::NetworkCreate n;
    n.name = network;
    n.labels = {{"com.docker.compose.project", project}, {"com.docker.compose.network", "default"}};
    if (auto r = e.createNetwork(n); !r) return die(r.error());
    const int total = services * replicas;
    Status s = bench::parallel(total, parallelism, [&](int i) -> Status {
      const std::string service = "s" + std::to_string(i / replicas);
      const std::string number = std::to_string(i % replicas + 1);
      engine::ContainerCreate c;
      c.name = project + "-" + service + "-" + number;
      c.config.image = "busybox:latest";
      c.config.cmd = std::vector<std::string>{"sleep", "3600"};
      c.config.stopSignal = "SIGKILL";
      c.config.labels = {{"com.docker.compose.project", project},
                         {"com.docker.compose.service", service},
                         {"com.docker.compose.container-number", number},
                         {"com.docker.compose.oneoff", "False"}};
      c.hostConfig.networkMode = network;
      c.networks[network].aliases = {c.name, service};
      BERTH_ASSIGN_OR_RETURN(auto created, e.createContainer(c));
      return e.startContainer(created.id);
    });
    return s ? 0 : die(s.error());
  }
  if (op == "noop") {
    Status failed = ok();
    std::mutex mu;
    const auto note = [&](const Error& err) {
      std::lock_guard lock(mu);
      if (failed) failed = err;
    };
    {
      std::jthread a([&] {
        if (auto r = e.listNetworks(projectFilter(project)); !r) note(r.error());
      });
      std::jthread b([&] {
        if (auto r = e.listVolumes(projectFilter(project)); !r) note(r.error());
      });
      std::jthread c([&] {
        engine::ListImagesOptions o;
        o.filters["reference"] = {"busybox:latest"};
        if (auto r = e.listImages(o); !r) note(r.error());
      });
      engine::ListContainersOptions o;
      o.all = true;
      o.filters = projectFilter(project);
      if (auto r = e.listContainers(o); !r) note(r.error());
    }
    return failed ? 0 : die(failed.error());
  }
  if (op == "ps") {
    engine::ListContainersOptions o;
    o.filters = projectFilter(project);
    auto r = e.listContainers(o);
    if (!r) return die(r.error());
    for (const auto& c : *r) std::printf("%s\n", c.names.empty() ? c.id.c_str() : c.names[0].c_str());
    return 0;
  }
  if (op == "down") {
    engine::ListContainersOptions o;
    o.all = true;
    o.filters = projectFilter(project);
    auto list = e.listContainers(o);
    if (!list) return die(list.error());
    Status s = bench::parallel(static_cast<int>(list->size()), parallelism, [&](int i) -> Status {
      const std::string& id = (*list)[static_cast<std::size_t>(i)].id;
      BERTH_TRY(e.stopContainer(id, std::nullopt));
      return e.removeContainer(id, {});
    });
    if (!s) return die(s.error());
    if (auto r = e.removeNetwork(network); !r) return die(r.error());
    return 0;
  }
  std::cerr << "berth_raw_floor: unknown operation " << op << "\n";
  return 2;
}
