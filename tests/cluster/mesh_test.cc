// The controller's side of the mesh that needs no fleet: the names a task answers to, the ingress
// ports serviceDef takes from a stack (and the ones it refuses), and meshProject, which puts a
// stack's networks on slices of the host's subnet (against a FakeEngine holding the host's
// networks) and points its services at the mesh's DNS servers.
#include "cluster/mesh.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cluster/cluster_test_util.h"
#include "cluster/service_def.h"
#include "fakes/fake_engine.h"

namespace berth::cluster::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// ---- meshNames

TEST(MeshNamesTest, ServiceAndTaskWithAndWithoutTheStack) {
  EXPECT_THAT(meshNames("shop", "web", 2), ElementsAre("web", "web.shop", "shop-web-2", "shop-web-2.shop"));
  EXPECT_THAT(meshNames("blog", "db", 1), ElementsAre("db", "db.blog", "blog-db-1", "blog-db-1.blog"));
}

// ---- serviceDef with the mesh

// serviceDef(..., mesh) of `service` in `yaml`: the definition, or a failed test.
ServiceDef meshDef(const std::string& yaml, const std::string& service, bool mesh = true) {
  const spec::Project p = project(yaml, "shop");
  auto s = p.services.find(service);
  if (s == p.services.end()) {
    ADD_FAILURE() << "no service " << service;
    return ServiceDef{};
  }
  auto d = serviceDef(p, s->second, 1, mesh);
  if (!d) {
    ADD_FAILURE() << "serviceDef: " << d.error().message();
    return ServiceDef{};
  }
  return std::move(*d);
}

// serviceDef's error for `service` in `yaml` with the mesh ("no error" when there is none).
std::string meshDefError(const std::string& yaml, const std::string& service) {
  const spec::Project p = project(yaml, "shop");
  auto s = p.services.find(service);
  if (s == p.services.end()) return "no service " + service;
  auto d = serviceDef(p, s->second, 1, true);
  if (d) return "no error";
  EXPECT_EQ(d.error().code(), ErrorCode::InvalidArgument);
  return d.error().message();
}

constexpr const char* kPorts = R"(
services:
  web:
    image: nginx
    ports:
      - "8080:80"
      - target: 443
        published: "8443"
        mode: host
      - "9000"
)";

TEST(ServiceDefMeshTest, IngressPortsBecomeIngressEntriesNotHostPorts) {
  const ServiceDef d = meshDef(kPorts, "web");
  EXPECT_EQ(d.ingress, (std::vector<IngressPort>{{8080, 80}}));
  // Only the `mode: host` port holds a port on the replica's host.
  EXPECT_THAT(d.placement.hostPorts, ElementsAre("8443/tcp"));
  EXPECT_THAT(d.ports, ElementsAre("*:8080->80/tcp", "8443->443/tcp", "9000/tcp"));
}

TEST(ServiceDefMeshTest, WithoutTheMeshEveryPublishedPortIsAHostPort) {
  const ServiceDef d = meshDef(kPorts, "web", false);
  EXPECT_THAT(d.ingress, IsEmpty());
  EXPECT_THAT(d.placement.hostPorts, ElementsAre("8080/tcp", "8443/tcp"));
  EXPECT_THAT(d.ports, ElementsAre("8080->80/tcp", "8443->443/tcp", "9000/tcp"));
}

TEST(ServiceDefMeshTest, SeveralIngressPortsKeepTheirOrder) {
  const ServiceDef d = meshDef("services: {web: {image: nginx, ports: ['443:8443', '80:8080']}}", "web");
  EXPECT_EQ(d.ingress, (std::vector<IngressPort>{{443, 8443}, {80, 8080}}));
  EXPECT_THAT(d.placement.hostPorts, IsEmpty());
}

TEST(ServiceDefMeshTest, AnIngressUdpPortIsRefusedNamingTheServiceAndTheWayOut) {
  const std::string e = meshDefError("services: {dns: {image: coredns, ports: ['53:53/udp']}}", "dns");
  EXPECT_THAT(e, HasSubstr("service dns"));
  EXPECT_THAT(e, HasSubstr("53"));
  EXPECT_THAT(e, HasSubstr("TCP only"));
  EXPECT_THAT(e, HasSubstr("`mode: host`"));
}

TEST(ServiceDefMeshTest, HttpRoutesFromXBerthIngress) {
  // One route: the port defaults to the service's one declared port, the path to /.
  ServiceDef d = meshDef("services: {web: {image: nginx, expose: ['8080'], ports: ['8080'], "
                         "x-berth-ingress: {host: shop.example.com}}}",
                         "web");
  EXPECT_EQ(d.http, (std::vector<HttpRoute>{{"shop.example.com", "/", 8080}}));
  // A list, with paths and ports; no port declared: 80.
  d = meshDef("services: {api: {image: nginx, x-berth-ingress: [{host: a.example, path: /api}, "
              "{path: /v2, port: 9000}]}}",
              "api");
  EXPECT_EQ(d.http, (std::vector<HttpRoute>{{"a.example", "/api", 80}, {"", "/v2", 9000}}));
}

TEST(ServiceDefMeshTest, BadHttpRoutesAreRefusedNamingTheServiceAndTheKey) {
  EXPECT_THAT(meshDefError("services: {web: {image: nginx, x-berth-ingress: {path: api}}}", "web"),
              AllOf(HasSubstr("service web: x-berth-ingress: path must be a prefix starting with /")));
  EXPECT_THAT(meshDefError("services: {web: {image: nginx, x-berth-ingress: {host: 'a b'}}}", "web"),
              HasSubstr("service web: x-berth-ingress: host must be a host name"));
  EXPECT_THAT(meshDefError("services: {web: {image: nginx, x-berth-ingress: {port: 70000}}}", "web"),
              HasSubstr("port must be the container's port"));
  EXPECT_THAT(meshDefError("services: {web: {image: nginx, x-berth-ingress: {hots: a.example}}}", "web"),
              HasSubstr("unknown key hots"));
  EXPECT_THAT(meshDefError("services: {web: {image: nginx, x-berth-ingress: true}}", "web"),
              HasSubstr("expected {host: NAME"));
  // Without the mesh nothing would serve the routes.
  const spec::Project p = project("services: {web: {image: nginx, x-berth-ingress: {host: a.example}}}", "shop");
  auto d = serviceDef(p, p.services.at("web"), 1, false);
  ASSERT_FALSE(d);
  EXPECT_THAT(d.error().message(), HasSubstr("--no-mesh"));
}

TEST(ServiceDefMeshTest, AnIngressPortBoundToOneAddressIsRefused) {
  // The ingress listens on every address of every host: "127.0.0.1:" must not quietly widen.
  const std::string e = meshDefError("services: {web: {image: nginx, ports: ['127.0.0.1:8080:80']}}", "web");
  EXPECT_THAT(e, HasSubstr("service web"));
  EXPECT_THAT(e, HasSubstr("127.0.0.1"));
  EXPECT_THAT(e, HasSubstr("`mode: host`"));
}

TEST(ServiceDefMeshTest, AnIngressPortRangeIsRefusedNamingTheServiceAndTheWayOut) {
  const std::string e = meshDefError("services: {web: {image: nginx, ports: ['8000-8001:80']}}", "web");
  EXPECT_THAT(e, HasSubstr("service web"));
  EXPECT_THAT(e, HasSubstr("8000-8001"));
  EXPECT_THAT(e, HasSubstr("single ports"));
  EXPECT_THAT(e, HasSubstr("`mode: host`"));
}

TEST(ServiceDefMeshTest, HostModePortsKeepTheOldBehaviour) {
  const std::string yaml = R"(
services:
  dns:
    image: coredns
    ports:
      - {target: 53, published: "53", protocol: udp, mode: host}
      - {target: 80, published: "8000-8001", mode: host}
)";
  const ServiceDef d = meshDef(yaml, "dns");
  EXPECT_THAT(d.ingress, IsEmpty());
  EXPECT_THAT(d.placement.hostPorts, ElementsAre("53/udp"));
  EXPECT_THAT(d.ports, ElementsAre("53->53/udp", "8000-8001->80/tcp"));
  // Without the mesh, UDP and ranges published the ingress way are what they always were.
  const ServiceDef old =
      meshDef("services: {dns: {image: coredns, ports: ['53:53/udp', '8000-8001:80']}}", "dns", false);
  EXPECT_THAT(old.placement.hostPorts, ElementsAre("53/udp"));
}

// ---- meshProject

// A compose project for host `index` of the mesh, rewritten by meshProject against `engine`.
struct Meshed {
  spec::Project project;
  Status status = ok();
};

Meshed meshed(fakes::FakeEngine& engine, const std::string& yaml, int hostIndex = 2) {
  Meshed m{project(yaml, "shop")};
  m.status = meshProject(engine, MeshOptions{}, hostIndex, m.project);
  return m;
}

void addNetwork(fakes::FakeEngine& engine, const std::string& name, const std::string& subnet, bool mesh) {
  engine::NetworkCreate n;
  n.name = name;
  if (mesh) n.labels[std::string(kMeshNetworkLabel)] = "1";
  engine::IpamPool pool;
  pool.subnet = subnet;
  n.ipam.config.push_back(pool);
  ASSERT_TRUE(engine.createNetwork(n));
}

std::string subnetOf(const spec::Network& n) {
  if (n.ipam.config.size() != 1) return "pools: " + std::to_string(n.ipam.config.size());
  return n.ipam.config[0].subnet;
}

constexpr const char* kShop = R"(
services:
  web:
    image: nginx
    networks: [front, back]
    ports:
      - "80:8080"
      - target: 9090
        published: "9090"
        mode: host
      - "7070"
  db:
    image: postgres
    networks: [back]
networks:
  front: {}
  back: {}
)";

TEST(MeshProjectTest, NetworksGetSlicesOfTheHostsSubnet) {
  fakes::FakeEngine engine;
  Meshed m = meshed(engine, kShop);
  ASSERT_TRUE(m.status) << m.status.error().message();
  const spec::Network& back = m.project.networks.at("back");
  const spec::Network& front = m.project.networks.at("front");
  EXPECT_EQ(subnetOf(back), "10.210.2.32/27");
  EXPECT_EQ(back.ipam.config[0].gateway, "10.210.2.33");
  EXPECT_EQ(subnetOf(front), "10.210.2.64/27");
  EXPECT_EQ(front.ipam.config[0].gateway, "10.210.2.65");
  for (const spec::Network* n : {&back, &front}) {
    EXPECT_EQ(n->driver, "bridge");
    EXPECT_FALSE(n->internal);
    EXPECT_EQ(n->driverOpts, (spec::Mapping{{"com.docker.network.bridge.enable_ip_masquerade", "false"},
                                            {"com.docker.network.driver.mtu", "1420"}}));
    EXPECT_EQ(n->labels.count("io.berth.mesh"), 1u);
    EXPECT_EQ(n->labels.count("io.berth.mesh.internal"), 0u);
  }
}

TEST(MeshProjectTest, HostIndexPicksTheSubnet) {
  fakes::FakeEngine engine;
  Meshed m = meshed(engine, kShop, 7);
  ASSERT_TRUE(m.status) << m.status.error().message();
  EXPECT_EQ(subnetOf(m.project.networks.at("back")), "10.210.7.32/27");
  EXPECT_EQ(m.project.services.at("db").dns, (std::vector<std::string>{"10.210.7.33", "10.210.7.1"}));

  fakes::FakeEngine other;
  Meshed none = meshed(other, kShop, 0);
  ASSERT_FALSE(none.status);
  EXPECT_EQ(none.status.error().code(), ErrorCode::Conflict);
  EXPECT_THAT(none.status.error().message(), HasSubstr("hosts 1 to 255"));
}

TEST(MeshProjectTest, ServicesAskTheirNetworksGatewaysThenTheHostsForwarder) {
  fakes::FakeEngine engine;
  Meshed m = meshed(engine, kShop);
  ASSERT_TRUE(m.status) << m.status.error().message();
  EXPECT_EQ(m.project.services.at("web").dns,
            (std::vector<std::string>{"10.210.2.33", "10.210.2.65", "10.210.2.1"}));
  EXPECT_EQ(m.project.services.at("db").dns, (std::vector<std::string>{"10.210.2.33", "10.210.2.1"}));
}

TEST(MeshProjectTest, AServicesOwnDnsServersStandInForTheForwarder) {
  fakes::FakeEngine engine;
  Meshed m = meshed(engine, "services: {web: {image: nginx, dns: [1.1.1.1, 9.9.9.9]}}");
  ASSERT_TRUE(m.status) << m.status.error().message();
  EXPECT_EQ(subnetOf(m.project.networks.at("default")), "10.210.2.32/27");
  EXPECT_EQ(m.project.services.at("web").dns,
            (std::vector<std::string>{"10.210.2.33", "1.1.1.1", "9.9.9.9"}));
}

TEST(MeshProjectTest, IngressPortsLeaveTheContainersHostPortsStay) {
  fakes::FakeEngine engine;
  Meshed m = meshed(engine, kShop);
  ASSERT_TRUE(m.status) << m.status.error().message();
  std::vector<std::string> left;
  for (const spec::Port& p : m.project.services.at("web").ports) {
    left.push_back(p.published + ":" + std::to_string(p.target) + " " + p.mode);
  }
  // The `mode: host` port, and the unpublished one (nothing to take over), stay.
  EXPECT_THAT(left, ElementsAre("9090:9090 host", ":7070 ingress"));
}

TEST(MeshProjectTest, AnExistingMeshNetworkKeepsItsSubnet) {
  fakes::FakeEngine engine;
  addNetwork(engine, "blog_default", "10.210.2.32/27", true);  // another stack's, on slice 1
  addNetwork(engine, "shop_back", "10.210.2.96/27", true);     // this stack's, on slice 3
  addNetwork(engine, "bridge", "172.17.0.0/16", false);        // the engine's own, out of the way
  Meshed m = meshed(engine, kShop);
  ASSERT_TRUE(m.status) << m.status.error().message();
  EXPECT_EQ(subnetOf(m.project.networks.at("back")), "10.210.2.96/27");
  EXPECT_EQ(m.project.networks.at("back").ipam.config[0].gateway, "10.210.2.97");
  // The first slice nobody has.
  EXPECT_EQ(subnetOf(m.project.networks.at("front")), "10.210.2.64/27");
  EXPECT_EQ(m.project.services.at("web").dns,
            (std::vector<std::string>{"10.210.2.97", "10.210.2.65", "10.210.2.1"}));
}

TEST(MeshProjectTest, AnEngineNetworkInTheMeshRangeIsAConflictNamingIt) {
  fakes::FakeEngine engine;
  addNetwork(engine, "lab", "10.210.9.0/24", false);
  Meshed m = meshed(engine, kShop);
  ASSERT_FALSE(m.status);
  EXPECT_EQ(m.status.error().code(), ErrorCode::Conflict);
  EXPECT_THAT(m.status.error().message(), HasSubstr("lab"));
  EXPECT_THAT(m.status.error().message(), HasSubstr("10.210.9.0/24"));
  EXPECT_THAT(m.status.error().message(), HasSubstr("10.210.0.0/16"));

  // Containing the range is overlapping it too.
  fakes::FakeEngine wide;
  addNetwork(wide, "everything", "10.0.0.0/8", false);
  Meshed w = meshed(wide, kShop);
  ASSERT_FALSE(w.status);
  EXPECT_THAT(w.status.error().message(), HasSubstr("everything"));
}

TEST(MeshProjectTest, AFullHostIsAConflict) {
  fakes::FakeEngine engine;
  for (int i = 1; i <= 6; ++i) {
    addNetwork(engine, "other_" + std::to_string(i), "10.210.2." + std::to_string(32 * i) + "/27", true);
  }
  // One slice left for two networks.
  Meshed m = meshed(engine, kShop);
  ASSERT_FALSE(m.status);
  EXPECT_EQ(m.status.error().code(), ErrorCode::Conflict);
  EXPECT_THAT(m.status.error().message(), HasSubstr("10.210.2.0/24"));
}

TEST(MeshProjectTest, AnInternalNetworkIsMadeOrdinaryAndLabelled) {
  fakes::FakeEngine engine;
  Meshed m = meshed(engine,
                    "services: {db: {image: postgres, networks: [data]}}\n"
                    "networks: {data: {internal: true}}");
  ASSERT_TRUE(m.status) << m.status.error().message();
  const spec::Network& data = m.project.networks.at("data");
  EXPECT_FALSE(data.internal);
  EXPECT_EQ(data.labels.count("io.berth.mesh.internal"), 1u);
  EXPECT_EQ(data.labels.count("io.berth.mesh"), 1u);
  EXPECT_EQ(subnetOf(data), "10.210.2.32/27");
}

TEST(MeshProjectTest, OnlyBridgeNetworksSpanHosts) {
  fakes::FakeEngine engine;
  Meshed overlay =
      meshed(engine, "services: {web: {image: nginx, networks: [n]}}\nnetworks: {n: {driver: overlay}}");
  ASSERT_TRUE(overlay.status) << overlay.status.error().message();
  EXPECT_EQ(overlay.project.networks.at("n").driver, "bridge");

  Meshed macvlan =
      meshed(engine, "services: {web: {image: nginx, networks: [n]}}\nnetworks: {n: {driver: macvlan}}");
  ASSERT_FALSE(macvlan.status);
  EXPECT_EQ(macvlan.status.error().code(), ErrorCode::InvalidArgument);
  EXPECT_THAT(macvlan.status.error().message(), HasSubstr("network n"));
  EXPECT_THAT(macvlan.status.error().message(), HasSubstr("macvlan"));
}

TEST(MeshProjectTest, ExternalNetworksAndHostNetworkingAreLeftAlone) {
  fakes::FakeEngine engine;
  Meshed m = meshed(engine, R"(
services:
  web: {image: nginx, networks: [outside]}
  probe: {image: busybox, network_mode: host}
networks:
  outside: {external: true, name: corp}
)");
  ASSERT_TRUE(m.status) << m.status.error().message();
  const spec::Network& outside = m.project.networks.at("outside");
  EXPECT_THAT(outside.ipam.config, IsEmpty());
  EXPECT_EQ(outside.labels.count("io.berth.mesh"), 0u);
  EXPECT_THAT(m.project.services.at("web").dns, IsEmpty());
  EXPECT_THAT(m.project.services.at("probe").dns, IsEmpty());
}

TEST(MeshProjectTest, AnEngineErrorComesBack) {
  fakes::FakeEngine engine;
  engine.failNext("listNetworks", Error(ErrorCode::Unavailable, "engine down"));
  Meshed m = meshed(engine, kShop);
  ASSERT_FALSE(m.status);
  EXPECT_EQ(m.status.error().code(), ErrorCode::Unavailable);
}

}  // namespace
}  // namespace berth::cluster::testing
