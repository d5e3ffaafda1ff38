// The scheduler: which host a task runs on, from compose text and a simulated fleet. Every rule of
// scheduler.h is pinned here, and the reasons it gives when nothing fits are compared whole.
#include "cluster/scheduler.h"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>

#include "cluster/cluster_test_util.h"

namespace berth::cluster::testing {
namespace {

// Where the next `count` tasks of `service` would go, placed one after the other as a pass places
// them ("h2 h3 h1"); a task that fits nowhere ends the list with the reason. The tasks are named
// from `first` on ("web.1", "web.2", ...).
std::string placements(const Sim& sim, const std::string& service, int count = 1, int first = 1,
                       const std::string& avoid = {}) {
  std::map<std::string, PlacementSpec> specs;
  for (const auto& [key, record] : sim.state.services) {
    (void)record;
    specs[key.first + "/" + key.second] = sim.def(key.second, key.first).placement;
  }
  std::vector<HostCandidate> hosts = candidates(sim.state, sim.obs, specs);
  Placer placer(hosts);
  const PlacementSpec& spec = specs.at("s/" + service);
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) {
    const std::string name = service + "." + std::to_string(first + i);
    auto host = place(spec, name, hosts, avoid);
    // The Placer (what a reconcile pass uses) decides exactly as the walk over every host does.
    auto fast = placer.place(spec, name, avoid);
    EXPECT_EQ(fast ? *fast : fast.error().message(), host ? *host : host.error().message()) << name;
    if (!host) {
      out.push_back(host.error().message());
      break;
    }
    out.push_back(*host);
  }
  return join(out, " ");
}

std::string parseError(const std::string& text) {
  auto c = parseConstraint(text);
  return c ? "parsed as " + c->text : c.error().message();
}

// ---- spread

TEST(SchedulerTest, SpreadsByFewestOfTheServiceThenFewestTasksThenName) {
  Sim sim;
  sim.addHost("h1");
  sim.addHost("h2");
  sim.addHost("h3");
  sim.deploy(R"(
services:
  db: {image: postgres}
  web: {image: nginx, deploy: {replicas: 0}}
)");
  sim.settle();
  ASSERT_EQ(sim.tasks(), "db.1 h1 running");
  // h2 and h3 tie (no web, no task) and h2 sorts first; then h3; then h1, whose db task counts
  // for nothing against web; the fourth ties on web again and h1 has the most tasks.
  EXPECT_EQ(placements(sim, "web", 4), "h2 h3 h1 h2");
}

TEST(SchedulerTest, ReplicasOfADeployGoOnePerHost) {
  Sim sim;
  sim.addHost("h1");
  sim.addHost("h2");
  sim.addHost("h3");
  sim.deploy("services: {web: {image: nginx, deploy: {replicas: 5}}}");
  sim.pass();
  EXPECT_EQ(sim.tasks(),
            "web.1 h1 assigned\n"
            "web.2 h2 assigned\n"
            "web.3 h3 assigned\n"
            "web.4 h1 assigned\n"
            "web.5 h2 assigned");
}

TEST(SchedulerTest, SpreadPreferenceFillsTheZoneWithFewestReplicasFirst) {
  Sim sim;
  sim.addHost("h1", {{"zone", "eu"}});
  sim.addHost("h2", {{"zone", "eu"}});
  sim.addHost("h3", {{"zone", "us"}});
  sim.deploy(R"(
services:
  web:
    image: nginx
    deploy: {replicas: 0, placement: {preferences: [{spread: node.labels.zone}]}}
)");
  // eu and us alternate although eu has two hosts: us's one host takes every other replica.
  EXPECT_EQ(placements(sim, "web", 4), "h1 h3 h2 h3");
}

TEST(SchedulerTest, HostsWithoutTheSpreadLabelShareOneEmptyValue) {
  Sim sim;
  sim.addHost("h1", {{"zone", "eu"}});
  sim.addHost("h2", {{"zone", "eu"}});
  sim.addHost("h3");
  sim.addHost("h4");
  sim.deploy(R"(
services:
  web:
    image: nginx
    deploy: {replicas: 0, placement: {preferences: [{spread: node.labels.zone}]}}
)");
  // Two groups, eu and none, alternate (were each unlabelled host a group, h4 would come third).
  EXPECT_EQ(placements(sim, "web", 4), "h1 h3 h2 h4");
}

// ---- constraints

TEST(SchedulerTest, HostnameConstraintsMatchTheEngineHostnameOrTheInventoryName) {
  Sim sim;
  sim.addHost("h1").facts.hostname = "node-1";
  sim.addHost("h2").facts.hostname = "node-2";
  sim.addHost("h3").facts.hostname = "node-3";
  sim.deploy(R"(
services:
  a: {image: nginx, deploy: {replicas: 0, placement: {constraints: [node.hostname == node-2]}}}
  b: {image: nginx, deploy: {replicas: 0, placement: {constraints: [node.hostname==h3]}}}
  c: {image: nginx, deploy: {replicas: 0, placement: {constraints: [node.hostname!=node-1]}}}
  d: {image: nginx, deploy: {replicas: 0, placement: {constraints: [node.hostname!=h1, node.hostname!=h2]}}}
)");
  EXPECT_EQ(placements(sim, "a", 2), "h2 h2");
  EXPECT_EQ(placements(sim, "b", 2), "h3 h3");
  EXPECT_EQ(placements(sim, "c", 2), "h2 h3");
  EXPECT_EQ(placements(sim, "d", 2), "h3 h3");
}

TEST(SchedulerTest, NodeIdConstraint) {
  Sim sim;
  sim.addHost("h1");
  const std::string id = sim.addHost("h2").id;
  sim.addHost("h3");
  sim.deploy("services: {web: {image: nginx, deploy: {replicas: 0, placement: {constraints: [node.id==" + id +
             "]}}}}");
  EXPECT_EQ(placements(sim, "web", 2), "h2 h2");
  sim.deploy("services: {web: {image: nginx, deploy: {replicas: 0, placement: {constraints: [node.id!=" + id +
             "]}}}}");
  EXPECT_EQ(placements(sim, "web", 2), "h1 h3");
}

TEST(SchedulerTest, NodeLabelConstraintsTreatAMissingLabelAsNoValue) {
  Sim sim;
  sim.addHost("h1", {{"zone", "eu"}});
  sim.addHost("h2", {{"zone", "us"}});
  sim.addHost("h3");  // no zone
  sim.deploy(R"(
services:
  eu: {image: nginx, deploy: {replicas: 0, placement: {constraints: [node.labels.zone==eu]}}}
  noteu: {image: nginx, deploy: {replicas: 0, placement: {constraints: [node.labels.zone!=eu]}}}
)");
  EXPECT_EQ(placements(sim, "eu", 2), "h1 h1");
  // != is satisfied by a host without the label.
  EXPECT_EQ(placements(sim, "noteu", 2), "h2 h3");
}

TEST(SchedulerTest, EngineLabelConstraintsReadTheEnginesOwnLabels) {
  Sim sim;
  sim.addHost("h1").facts.engineLabels = {{"rack", "r1"}};
  sim.addHost("h2").facts.engineLabels = {{"rack", "r2"}};
  sim.addHost("h3", {{"rack", "r2"}});  // a node label of that name is not an engine label
  sim.deploy(R"(
services:
  r2: {image: nginx, deploy: {replicas: 0, placement: {constraints: [engine.labels.rack==r2]}}}
  notr2: {image: nginx, deploy: {replicas: 0, placement: {constraints: [engine.labels.rack!=r2]}}}
)");
  EXPECT_EQ(placements(sim, "r2", 2), "h2 h2");
  EXPECT_EQ(placements(sim, "notr2", 2), "h1 h3");
}

TEST(SchedulerTest, EveryConstraintMustHoldAndTheFirstFailingOneIsTheReason) {
  Sim sim;
  sim.addHost("h1", {{"zone", "eu"}, {"disk", "hdd"}});
  sim.addHost("h2", {{"zone", "us"}, {"disk", "ssd"}});
  sim.deploy(R"(
services:
  web:
    image: nginx
    deploy: {placement: {constraints: [node.labels.zone==eu, node.labels.disk==ssd]}}
)");
  EXPECT_EQ(placements(sim, "web"),
            "no host fits web.1: h1 fails node.labels.disk==ssd, h2 fails node.labels.zone==eu");
}

// ---- capacity

TEST(SchedulerTest, MaxReplicasPerNodeCapsEachHost) {
  Sim sim;
  sim.addHost("h1");
  sim.addHost("h2");
  sim.deploy("services: {web: {image: nginx, deploy: {replicas: 0, placement: {max_replicas_per_node: 1}}}}");
  EXPECT_EQ(
      placements(sim, "web", 3),
      "h1 h2 no host fits web.3: h1 already runs 1 of web (max_replicas_per_node 1), h2 already runs 1 of "
      "web (max_replicas_per_node 1)");
}

TEST(SchedulerTest, MaxReplicasPerNodeLeavesAReplicaPendingWithTheReason) {
  Sim sim;
  sim.addHost("h1");
  sim.addHost("h2");
  sim.deploy("services: {web: {image: nginx, deploy: {replicas: 3, placement: {max_replicas_per_node: 1}}}}");
  sim.settle();
  EXPECT_EQ(
      sim.tasks(),
      "web.1 h1 running\n"
      "web.2 h2 running\n"
      "web.3 - pending: no host fits web.3: h1 already runs 1 of web (max_replicas_per_node 1), h2 already "
      "runs 1 of web (max_replicas_per_node 1)");
  // A host that fits takes the pending task.
  sim.addHost("h3");
  sim.pass();
  EXPECT_EQ(sim.events(), "task web.3 placed on h3");
}

TEST(SchedulerTest, CpuReservationsCountAgainstTheHostsCpus) {
  Sim sim;
  sim.addHost("h1", {}, 2);
  sim.deploy(
      "services: {web: {image: nginx, deploy: {replicas: 0, resources: {reservations: {cpus: '1.5'}}}}}");
  EXPECT_EQ(placements(sim, "web", 2), "h1 no host fits web.2: h1 has 0.5 of 2 CPUs free");
}

TEST(SchedulerTest, MemoryReservationsCountAgainstTheHostsMemory) {
  Sim sim;
  sim.addHost("h1", {}, 4, kGiB);
  sim.deploy(
      "services: {web: {image: nginx, deploy: {replicas: 0, resources: {reservations: {memory: 768M}}}}}");
  EXPECT_EQ(placements(sim, "web", 2), "h1 no host fits web.2: h1 has 256MiB of 1GiB memory free");
}

TEST(SchedulerTest, LiveTasksOfOtherServicesReserveTheirShare) {
  Sim sim;
  sim.addHost("h1", {}, 2);
  sim.addHost("h2", {}, 1);
  sim.deploy(R"(
services:
  db: {image: postgres, deploy: {resources: {reservations: {cpus: '1.5'}}, restart_policy: {condition: none}}}
  web: {image: nginx, deploy: {replicas: 0, resources: {reservations: {cpus: '1'}}}}
)");
  sim.settle();
  ASSERT_EQ(sim.tasks(), "db.1 h1 running");
  EXPECT_EQ(placements(sim, "web", 2),
            "h2 no host fits web.2: h1 has 0.5 of 2 CPUs free, h2 has 0 of 1 CPUs free");
  // An ended task reserves nothing.
  sim.kill("db.1");
  sim.pass();
  ASSERT_EQ(sim.tasks(), "");
  EXPECT_EQ(placements(sim, "web", 3), "h1 h2 h1");
}

TEST(SchedulerTest, TwoTasksPublishingOneHostPortNeverShareAHost) {
  Sim sim;
  sim.addHost("h1");
  sim.addHost("h2");
  sim.deploy(R"(
services:
  web: {image: nginx, ports: ["8080:80"], deploy: {replicas: 0}}
  api: {image: nginx, ports: ["8080:80"], deploy: {replicas: 0}}
  ranged: {image: nginx, ports: ["9000-9001:80"], deploy: {replicas: 0}}
)");
  EXPECT_EQ(placements(sim, "web", 3),
            "h1 h2 no host fits web.3: h1 already publishes port 8080/tcp (another task of web), h2 already "
            "publishes "
            "port 8080/tcp (another task of web)");
  sim.scale("web", 1);
  sim.settle();
  ASSERT_EQ(sim.tasks(), "web.1 h1 running");
  EXPECT_EQ(
      placements(sim, "api", 2),
      "h2 no host fits api.2: h1 already publishes port 8080/tcp (web), h2 already publishes port 8080/tcp "
      "(another task of api)");
  // A published range is not a fixed port: the engine picks one of it per container.
  EXPECT_EQ(placements(sim, "ranged", 3), "h2 h1 h2");
}

// ---- hosts that cannot take tasks

TEST(SchedulerTest, DownUnknownAndDrainingHostsTakeNothing) {
  Sim sim;
  sim.addHost("h1");
  sim.addHost("h2");
  sim.addHost("h3");
  sim.addHost("h4");
  sim.downHost("h1");
  sim.drain("h3");
  sim.advance(6s);
  sim.pass();
  sim.neverAnswered("h2");  // e.g. since berthd restarted a moment ago
  sim.deploy("services: {web: {image: nginx, deploy: {replicas: 0}}}");
  EXPECT_EQ(placements(sim, "web", 2), "h4 h4");
  sim.drain("h4");
  EXPECT_EQ(placements(sim, "web"),
            "no host fits web.1: h1 is down, h2 has not answered yet, h3 is draining, h4 is draining");
}

TEST(SchedulerTest, NoHostAtAll) {
  Sim sim;
  sim.deploy("services: {web: {image: nginx}}");
  EXPECT_EQ(placements(sim, "web"), "no host fits web.1: no host is registered (`berth host add`)");
}

TEST(SchedulerTest, APinnedHostIsTheOnlyCandidate) {
  Sim sim;
  sim.addHost("h1");
  sim.addHost("h2");
  sim.addHost("h3");
  sim.deploy("services: {db: {image: postgres}}");
  PlacementSpec spec = sim.def("db").placement;
  spec.pinnedHost = "h2";
  std::vector<HostCandidate> hosts = candidates(sim.state, sim.obs, {{"s/db", spec}});
  EXPECT_EQ(*place(spec, "db.1", hosts), "h2");
  EXPECT_EQ(*place(spec, "db.2", hosts), "h2");
  sim.drain("h2");
  auto none = place(spec, "db.3", hosts);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message(),
            "no host fits db.3: h1 does not hold the service's volume (it is on h2), h2 is draining, h3 does "
            "not hold "
            "the service's volume (it is on h2)");
}

TEST(SchedulerTest, TheReasonNamesEveryHost) {
  Sim sim;
  sim.addHost("h1", {{"zone", "us"}});
  sim.addHost("h2", {{"zone", "eu"}}, 2);
  sim.addHost("h3", {{"zone", "eu"}});
  sim.drain("h3");
  sim.deploy(R"(
services:
  web:
    image: nginx
    deploy:
      replicas: 2
      placement: {constraints: [node.labels.zone==eu]}
      resources: {reservations: {cpus: '1.5'}}
)");
  sim.pass();
  EXPECT_EQ(
      sim.tasks(),
      "web.1 h2 assigned\n"
      "web.2 - pending: no host fits web.2: h1 fails node.labels.zone==eu, h2 has 0.5 of 2 CPUs free, h3 is "
      "draining");
  EXPECT_EQ(
      sim.events(),
      "task web.1 placed on h2\n"
      "task web.2 pending: no host fits web.2: h1 fails node.labels.zone==eu, h2 has 0.5 of 2 CPUs free, h3 "
      "is draining");
}

TEST(SchedulerTest, AnAvoidedHostIsUsedOnlyWhenNothingElseFits) {
  Sim sim;
  sim.addHost("h1");
  sim.addHost("h2", {}, 1);
  sim.deploy(
      "services: {web: {image: nginx, deploy: {replicas: 0, resources: {reservations: {cpus: '1'}}}}}");
  EXPECT_EQ(placements(sim, "web", 1, 1, "h1"), "h2");
  EXPECT_EQ(placements(sim, "web", 3, 1, "h1"), "h2 h1 h1");
}

// ---- determinism

TEST(SchedulerTest, SameInputSamePlacementWhateverTheOrderHostsWereAddedIn) {
  const char* yaml = R"(
services:
  web: {image: nginx, deploy: {replicas: 7, placement: {preferences: [{spread: node.labels.zone}]}}}
  api: {image: nginx, deploy: {replicas: 4, resources: {reservations: {cpus: '1'}}}}
)";
  const auto run = [&](const std::vector<std::string>& order) {
    Sim sim;
    for (const std::string& h : order) sim.addHost(h, {{"zone", h == "h1" || h == "h4" ? "eu" : "us"}}, 2);
    sim.deploy(yaml);
    sim.settle();
    return sim.tasks();
  };
  const std::string first = run({"h1", "h2", "h3", "h4"});
  EXPECT_EQ(first, run({"h1", "h2", "h3", "h4"}));
  EXPECT_EQ(first, run({"h4", "h3", "h2", "h1"}));
  EXPECT_EQ(first, run({"h3", "h1", "h4", "h2"}));
}

// ---- eligibility (global services)

TEST(SchedulerTest, EligibleIgnoresLoadButNotConstraintsOrAvailability) {
  Sim sim;
  sim.addHost("h1", {{"zone", "eu"}}, 1);
  sim.addHost("h2", {{"zone", "us"}});
  sim.addHost("h3", {{"zone", "eu"}});
  sim.drain("h3");
  sim.deploy(R"(
services:
  agent:
    image: nginx
    deploy: {placement: {constraints: [node.labels.zone==eu]}, resources: {reservations: {cpus: '8'}}}
)");
  const PlacementSpec spec = sim.def("agent").placement;
  std::vector<HostCandidate> hosts = candidates(sim.state, sim.obs, {{"s/agent", spec}});
  std::vector<std::string> why;
  for (const HostCandidate& h : hosts) {
    std::string reason;
    why.push_back(eligible(spec, h, &reason) ? h.host->name + " eligible" : reason);
  }
  EXPECT_EQ(join(why, ", "), "h1 eligible, h2 fails node.labels.zone==eu, h3 is draining");
}

// ---- constraints as text

TEST(SchedulerTest, ParseConstraint) {
  auto c = parseConstraint("  node.labels.zone ==  eu ");
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, (Constraint{.field = Constraint::Field::NodeLabel,
                            .key = "zone",
                            .equal = true,
                            .value = "eu",
                            .text = "node.labels.zone==eu"}));
  EXPECT_EQ(*parseConstraint("engine.labels.com.example.rack!=r1"),
            (Constraint{.field = Constraint::Field::EngineLabel,
                        .key = "com.example.rack",
                        .equal = false,
                        .value = "r1",
                        .text = "engine.labels.com.example.rack!=r1"}));
  EXPECT_EQ(parseError("node.hostname==h1"), "parsed as node.hostname==h1");
  EXPECT_EQ(parseError("node.id != 0123456789ab"), "parsed as node.id!=0123456789ab");
}

TEST(SchedulerTest, ParseConstraintErrorsNameTheExpressionAndTheProblem) {
  EXPECT_EQ(parseError("node.labels.zone"),
            "placement constraint \"node.labels.zone\": expected KEY==VALUE or KEY!=VALUE");
  EXPECT_EQ(parseError("node.labels.zone=eu"),
            "placement constraint \"node.labels.zone=eu\": expected KEY==VALUE or KEY!=VALUE");
  EXPECT_EQ(parseError(" == eu"), "placement constraint \" == eu\": nothing before ==");
  EXPECT_EQ(parseError("node.labels.zone != "),
            "placement constraint \"node.labels.zone != \": nothing after !=");
  EXPECT_EQ(
      parseError("node.role==manager"),
      "placement constraint \"node.role==manager\": node.role does not apply: berth's hosts have no roles "
      "(use node.labels.KEY)");
  EXPECT_EQ(parseError("node.platform.os==linux"),
            "placement constraint \"node.platform.os==linux\": unknown attribute \"node.platform.os\" "
            "(node.hostname, node.id, node.labels.KEY, engine.labels.KEY)");
  EXPECT_EQ(
      parseError("node.labels.==x"),
      "placement constraint \"node.labels.==x\": unknown attribute \"node.labels.\" (node.hostname, node.id, "
      "node.labels.KEY, engine.labels.KEY)");
}

TEST(SchedulerTest, ABadConstraintInComposeNamesTheService) {
  const spec::Project p =
      project("services: {web: {image: nginx, deploy: {placement: {constraints: [zone=eu]}}}}");
  auto d = serviceDef(p, p.services.at("web"), 1);
  ASSERT_FALSE(d);
  EXPECT_EQ(
      d.error().message(),
      "service web: deploy.placement.constraints: placement constraint \"zone=eu\": expected KEY==VALUE or "
      "KEY!=VALUE");
}

TEST(SchedulerTest, ReasonsPrintCpusAndMemoryShortly) {
  EXPECT_EQ(formatCpus(0.5), "0.5");
  EXPECT_EQ(formatCpus(2), "2");
  EXPECT_EQ(formatCpus(0.125), "0.13");
  EXPECT_EQ(formatCpus(0), "0");
  EXPECT_EQ(formatBytes(512 * kMiB), "512MiB");
  EXPECT_EQ(formatBytes(kGiB + kGiB / 2), "1.5GiB");
  EXPECT_EQ(formatBytes(100), "100B");
}

// The Placer against the walk over every host, on random fleets and random sequences of placements
// (with and without a host to avoid, pinned or not) and load changes: the same host or the same
// reason every time, and the same load at the end.
TEST(SchedulerTest, PlacerDecidesAsTheWalkOverEveryHostDoes) {
  std::mt19937 random(20261206);
  const auto pick = [&](int n) { return static_cast<int>(random() % static_cast<unsigned>(n)); };
  for (int round = 0; round < 500; ++round) {
    std::vector<std::unique_ptr<Host>> owned;
    std::vector<HostCandidate> hosts;
    const int hostCount = 1 + pick(12);
    for (int i = 0; i < hostCount; ++i) {
      auto h = std::make_unique<Host>();
      h->name = "h" + std::to_string(pick(40));  // names repeat: skip the duplicates
      bool duplicate = false;
      for (const auto& o : owned) duplicate = duplicate || o->name == h->name;
      if (duplicate) continue;
      h->index = i + 1;
      h->facts.ncpu = 1 + pick(4);
      h->facts.memoryBytes = (1 + pick(4)) * kGiB;
      if (pick(4) != 0) h->labels["zone"] = std::string(1, static_cast<char>('a' + pick(3)));
      if (pick(2) == 0) h->labels["rack"] = std::to_string(pick(2));
      if (pick(8) == 0) h->availability = Availability::Drain;
      HostCandidate c;
      c.host = h.get();
      c.health = pick(10) == 0 ? HostHealth::Down : HostHealth::Ready;
      hosts.push_back(c);
      owned.push_back(std::move(h));
    }
    // As candidates() gives them: by name (the order reasons are listed in).
    std::sort(hosts.begin(), hosts.end(),
              [](const HostCandidate& a, const HostCandidate& b) { return a.host->name < b.host->name; });
    std::vector<PlacementSpec> specs;
    for (int i = 0; i < 3; ++i) {
      PlacementSpec spec;
      spec.stack = "s";
      spec.service = "svc" + std::to_string(i);
      if (pick(3) == 0) spec.constraints.push_back(*parseConstraint(pick(2) == 0 ? "node.labels.zone!=c" : "node.labels.rack==0"));
      const int labels = pick(3);
      if (labels >= 1) spec.spreadLabels.push_back("zone");
      if (labels >= 2) spec.spreadLabels.push_back("rack");
      if (pick(3) == 0) spec.maxPerHost = 1 + pick(3);
      if (pick(3) == 0) spec.cpus = 0.5 * (1 + pick(3));
      if (pick(4) == 0) spec.memory = (1 + pick(2)) * kGiB / 2;
      if (pick(5) == 0) spec.hostPorts.push_back("8080/tcp");
      specs.push_back(spec);
    }
    std::vector<HostCandidate> walked = hosts;
    Placer placer(hosts);
    std::vector<std::pair<std::string, PlacementSpec>> placed;
    for (int step = 0; step < 60; ++step) {
      PlacementSpec spec = specs[static_cast<std::size_t>(pick(3))];
      const std::string where = fmt::format("round {} step {}", round, step);
      if (!placed.empty() && pick(5) == 0) {
        const std::size_t i = static_cast<std::size_t>(pick(static_cast<int>(placed.size())));
        removeLoad(walked, placed[i].first, placed[i].second);
        placer.remove(placed[i].first, placed[i].second);
        placed.erase(placed.begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
      if (pick(6) == 0) spec.pinnedHost = owned[static_cast<std::size_t>(pick(static_cast<int>(owned.size())))]->name;
      const std::string avoid = pick(4) == 0 ? owned[static_cast<std::size_t>(pick(static_cast<int>(owned.size())))]->name : "";
      auto expected = place(spec, "t", walked, avoid);
      auto got = placer.place(spec, "t", avoid);
      ASSERT_EQ(got ? *got : got.error().message(), expected ? *expected : expected.error().message()) << where;
      if (expected) placed.emplace_back(*expected, spec);
    }
    for (const HostCandidate& w : walked) {
      const HostCandidate* p = placer.find(w.host->name);
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(p->tasks, w.tasks) << w.host->name;
      EXPECT_EQ(p->ports, w.ports) << w.host->name;
      EXPECT_DOUBLE_EQ(p->cpusReserved, w.cpusReserved) << w.host->name;
    }
  }
}

}  // namespace
}  // namespace berth::cluster::testing
