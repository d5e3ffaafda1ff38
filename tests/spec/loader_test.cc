// End-to-end tests of spec::load / spec::loadProject: what berth reads and what it says when a
// file is wrong. Error messages are compared whole.
#include "spec/loader.h"

#include <gtest/gtest.h>

#include "spec/render.h"
#include "spec_test_util.h"

namespace berth::spec {
namespace {

using testing::loadError;
using testing::loadYaml;
using testing::TempProject;

// ---- errors ---------------------------------------------------------------------------------------

TEST(LoaderErrorTest, UnknownKeySuggestsTheNearestOne) {
  EXPECT_EQ(loadError("services:\n  web:\n    image: nginx\n    port:\n      - 80\n"),
            "compose.yaml:4:5: services.web: additional properties 'port' not allowed; did you mean "
            "'ports'?");
}

TEST(LoaderErrorTest, SeveralErrorsAreReportedTogetherInFileOrder) {
  EXPECT_EQ(loadError("services:\n"
                      "  web:\n"
                      "    image: [nginx]\n"
                      "    ports:\n"
                      "      - \"8080:80\"\n"
                      "      - \"80:http\"\n"
                      "    healthcheck:\n"
                      "      interval: 10\n"
                      "    restart: 3\n"),
            "compose.yaml:3:12: services.web.image: must be a string\n"
            "compose.yaml:6:9: services.web.ports[1]: invalid containerPort: http (expected "
            "\"[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]\")\n"
            "compose.yaml:8:17: services.web.healthcheck.interval: invalid duration \"10\" (use a "
            "number with a unit: \"10s\", \"1m30s\", \"500ms\")\n"
            "compose.yaml:9:14: services.web.restart: must be a string");
}

TEST(LoaderErrorTest, RequiredVariableNamesTheValue) {
  EXPECT_EQ(loadError("services:\n  db:\n    image: postgres\n    environment:\n"
                      "      POSTGRES_PASSWORD: ${DB_PASSWORD:?set DB_PASSWORD in .env}\n"),
            "compose.yaml:5:26: services.db.environment.POSTGRES_PASSWORD: required variable "
            "DB_PASSWORD is missing a value: set DB_PASSWORD in .env");
}

TEST(LoaderErrorTest, AllMissingVariablesAreReported) {
  EXPECT_EQ(loadError("services:\n  a:\n    image: ${A:?}\n  b:\n    image: ${B:?}\n"),
            "compose.yaml:3:12: services.a.image: required variable A is missing a value\n"
            "compose.yaml:5:12: services.b.image: required variable B is missing a value");
}

TEST(LoaderErrorTest, InvalidInterpolation) {
  EXPECT_EQ(loadError("services:\n  a:\n    image: \"nginx:${\"\n"),
            "compose.yaml:3:12: invalid interpolation format for services.a.image. You may need to "
            "escape any $ with another $. Invalid template: \"nginx:${\"");
}

TEST(LoaderErrorTest, TypesOfNestedAttributes) {
  EXPECT_EQ(loadError("services:\n  a:\n    image: x\n    deploy:\n      replicas: many\n"
                      "      resources:\n        limits:\n          memory: lots\n"),
            "compose.yaml:5:17: services.a.deploy.replicas: must be an integer\n"
            "compose.yaml:8:19: services.a.deploy.resources.limits.memory: invalid size \"lots\" (use a "
            "number of bytes or a size such as \"512m\")");
}

TEST(LoaderErrorTest, UndefinedReferences) {
  EXPECT_EQ(loadError("services:\n"
                      "  web:\n"
                      "    image: nginx\n"
                      "    depends_on: [db]\n"
                      "    networks: [front]\n"
                      "    volumes:\n"
                      "      - data:/data\n"
                      "    secrets: [token]\n"),
            "compose.yaml:4:18: services.web.depends_on.db: service \"web\" depends on undefined "
            "service \"db\"\n"
            "compose.yaml:5:16: services.web.networks.front: service \"web\" refers to undefined "
            "network front\n"
            "compose.yaml:7:9: services.web.volumes[0]: service \"web\" refers to undefined volume data\n"
            "compose.yaml:8:15: services.web.secrets[0]: service \"web\" refers to undefined secret token");
}

TEST(LoaderErrorTest, DependencyCycle) {
  EXPECT_EQ(loadError("services:\n"
                      "  a: {image: x, depends_on: [b]}\n"
                      "  b: {image: x, depends_on: [c]}\n"
                      "  c: {image: x, depends_on: [a]}\n"),
            "compose.yaml:2:29: services.a.depends_on: dependency cycle detected: a -> b -> c -> a");
}

TEST(LoaderErrorTest, NetworkModeServiceMustExist) {
  LoadOptions o;
  o.normalize = false;
  EXPECT_EQ(loadError("services:\n  a:\n    image: x\n    network_mode: service:vpn\n", o),
            "compose.yaml:4:19: services.a.network_mode: service \"vpn\" not found for network_mode "
            "'service:vpn'");
}

TEST(LoaderErrorTest, HostileInputIsRefused) {
  std::string bomb = "services:\n  a:\n    image: x\nx-0: &x0 [y, y, y, y, y, y, y, y, y, y]\n";
  for (int i = 1; i < 10; ++i) {
    bomb += "x-" + std::to_string(i) + ": &x" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) bomb += (j ? ", *x" : "*x") + std::to_string(i - 1);
    bomb += "]\n";
  }
  const std::string error = loadError(bomb);
  EXPECT_NE(error.find("excessive aliasing"), std::string::npos) << error;
}

TEST(LoaderErrorTest, TopLevelMustBeAMapping) {
  EXPECT_EQ(loadError("- a\n- b\n"), "compose.yaml:1:1: top-level object must be a mapping");
  EXPECT_EQ(loadError("# nothing\n"), "empty compose file");
}

TEST(LoaderErrorTest, MissingFile) {
  TempProject p;
  auto r = p.load({"nope.yaml"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "nope.yaml: no such file");
}

// ---- project name, files, environment (CLI level) ------------------------------------------------

TEST(ProjectOptionsTest, NamePrecedence) {
  TempProject p;
  p.write("compose.yaml", "services:\n  a:\n    image: x\n");
  ProjectOptions o;
  auto fromDir = p.loadCli(o);
  ASSERT_TRUE(fromDir) << fromDir.error().message();
  EXPECT_EQ(fromDir->name, "proj");

  p.write("compose.yaml", "name: From_File\nservices:\n  a:\n    image: x\n");
  EXPECT_EQ(p.loadCli(o)->name, "from_file");

  o.processEnvironment["COMPOSE_PROJECT_NAME"] = "from-env";
  EXPECT_EQ(p.loadCli(o)->name, "from-env");

  o.projectName = "from-flag";
  EXPECT_EQ(p.loadCli(o)->name, "from-flag");

  o.projectName = "Bad.Name";
  EXPECT_EQ(p.loadCli(o).error().message(),
            "invalid project name \"Bad.Name\": must consist only of lowercase alphanumeric "
            "characters, hyphens, and underscores as well as start with a letter or number");
}

TEST(ProjectOptionsTest, DefaultFilesAndOverride) {
  TempProject p;
  p.write("compose.yaml", "services:\n  a:\n    image: x\n    environment: {A: base}\n");
  p.write("compose.override.yml", "services:\n  a:\n    environment: {A: override}\n");
  p.write("docker-compose.yml", "services:\n  ignored:\n    image: y\n");
  auto r = p.loadCli({});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->composeFiles,
            (std::vector<std::string>{p.path("compose.yaml"), p.path("compose.override.yml")}));
  EXPECT_EQ(r->services.at("a").environment.at("A"), "override");
  EXPECT_EQ(r->services.count("ignored"), 0u);
}

TEST(ProjectOptionsTest, FindsFilesInParentDirectories) {
  TempProject p;
  p.write("compose.yaml", "services:\n  a:\n    image: x\n");
  p.write("sub/dir/.keep", "");
  ProjectOptions o;
  o.currentDirectory = p.path("sub/dir");
  auto r = loadProject(o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->workingDir, p.dir().string());
  EXPECT_EQ(r->name, "proj");
}

TEST(ProjectOptionsTest, NoFileFound) {
  TempProject p;
  auto r = p.loadCli({});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::NotFound);
  EXPECT_EQ(r.error().message().substr(0, 44), "no configuration file provided: not found (l");
}

TEST(ProjectOptionsTest, ComposeFileVariableAndDotEnv) {
  TempProject p;
  p.write("one.yaml", "services:\n  a:\n    image: ${IMAGE}:${TAG:-latest}\n");
  p.write("two.yaml", "services:\n  a:\n    labels: [from=two]\n");
  p.write(".env", "COMPOSE_FILE=one.yaml,two.yaml\nCOMPOSE_PATH_SEPARATOR=,\nIMAGE=from-dotenv\nTAG=1\n");
  ProjectOptions o;
  o.processEnvironment["TAG"] = "from-process";
  auto r = p.loadCli(o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->services.at("a").image, "from-dotenv:from-process");  // the process wins
  EXPECT_EQ(r->services.at("a").labels.at("from"), "two");
}

TEST(ProjectOptionsTest, EnvFileFlagReplacesDotEnv) {
  TempProject p;
  p.write("compose.yaml", "services:\n  a:\n    image: ${IMAGE}\n");
  p.write(".env", "IMAGE=dotenv\n");
  p.write("prod.env", "IMAGE=prod\n");
  ProjectOptions o;
  o.envFiles = {"prod.env"};
  EXPECT_EQ(p.loadCli(o)->services.at("a").image, "prod");
  o.envFiles = {"missing.env"};
  EXPECT_EQ(p.loadCli(o).error().message(), "couldn't find env file: " + p.path("missing.env"));
}

TEST(ProjectOptionsTest, ProfilesFromFlagOrEnvironment) {
  TempProject p;
  p.write("compose.yaml",
          "services:\n  app: {image: a}\n  debug: {image: d, profiles: [dev]}\n"
          "  tools: {image: t, profiles: [ops]}\n");
  ProjectOptions o;
  auto none = p.loadCli(o);
  ASSERT_TRUE(none) << none.error().message();
  EXPECT_EQ(none->services.size(), 1u);
  EXPECT_EQ(none->disabledServices.size(), 2u);
  o.processEnvironment["COMPOSE_PROFILES"] = "dev, ops";
  EXPECT_EQ(p.loadCli(o)->services.size(), 3u);
  o.profiles = {"ops"};
  auto ops = p.loadCli(o);
  EXPECT_EQ(ops->services.count("tools"), 1u);
  EXPECT_EQ(ops->services.count("debug"), 0u);
}

TEST(ProjectOptionsTest, SelectedServicesBringTheirDependenciesAndProfiles) {
  TempProject p;
  p.write("compose.yaml",
          "services:\n  web: {image: w, depends_on: [api]}\n  api: {image: a}\n  other: {image: o}\n"
          "  debug: {image: d, profiles: [dev]}\n");
  ProjectOptions o;
  o.load.selectedServices = {"web", "debug"};
  auto r = p.loadCli(o);
  ASSERT_TRUE(r) << r.error().message();
  std::vector<std::string> names;
  for (const auto& [name, s] : r->services) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"api", "debug", "web"}));
  o.load.selectedServices = {"nope"};
  EXPECT_EQ(p.loadCli(o).error().message(), "no such service: nope");
}

// ---- merge, extends, include --------------------------------------------------------------------

TEST(MergeTest, OverrideFilesFollowComposeRules) {
  TempProject p;
  p.write("compose.yaml",
          "services:\n"
          "  web:\n"
          "    image: nginx\n"
          "    command: [a, b]\n"
          "    ports: ['8080:80']\n"
          "    environment: [A=1, B=2]\n"
          "    volumes: ['data:/data', './conf:/etc/conf']\n"
          "    labels: {x: '1'}\n"
          "volumes: {data: {}}\n");
  p.write("override.yaml",
          "services:\n"
          "  web:\n"
          "    image: nginx:2\n"
          "    command: [c]\n"
          "    ports: ['8443:443']\n"
          "    environment: {B: '3'}\n"
          "    volumes: ['other:/data']\n"
          "    labels: !reset {}\n"
          "volumes: {other: {}}\n");
  auto r = p.load({"compose.yaml", "override.yaml"});
  ASSERT_TRUE(r) << r.error().message();
  const Service& web = r->services.at("web");
  EXPECT_EQ(web.image, "nginx:2");
  EXPECT_EQ(*web.command, (std::vector<std::string>{"c"}));
  ASSERT_EQ(web.ports.size(), 2u);
  EXPECT_EQ(web.ports[1].target, 443u);
  EXPECT_EQ(web.environment, (MappingWithEquals{{"A", "1"}, {"B", "3"}}));
  ASSERT_EQ(web.volumes.size(), 2u);
  EXPECT_EQ(web.volumes[0].source, "other");  // same target: replaced in place
  EXPECT_TRUE(web.labels.empty());
}

TEST(MergeTest, OverrideTagReplacesInsteadOfMerging) {
  TempProject p;
  p.write("compose.yaml", "services:\n  web:\n    image: x\n    ports: ['80:80', '443:443']\n");
  p.write("override.yaml", "services:\n  web:\n    ports: !override ['8080:80']\n");
  auto r = p.load({"compose.yaml", "override.yaml"});
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->services.at("web").ports.size(), 1u);
  EXPECT_EQ(r->services.at("web").ports[0].published, "8080");
}

TEST(MergeTest, IncompatibleOverride) {
  TempProject p;
  p.write("compose.yaml", "services:\n  web:\n    image: x\n    deploy: {replicas: 2}\n");
  p.write("override.yaml", "services:\n  web:\n    deploy: [1]\n");
  EXPECT_EQ(p.load({"compose.yaml", "override.yaml"}).error().message(),
            "override.yaml:3:13: cannot override services.web.deploy: a list cannot replace a mapping");
}

TEST(ExtendsTest, SameFileAndOtherFileWithRelativePaths) {
  TempProject p;
  p.write("common/base.yaml",
          "services:\n"
          "  base:\n"
          "    image: app\n"
          "    env_file: ./base.env\n"
          "    build: ./src\n"
          "    volumes: ['./data:/data']\n");
  p.write("common/base.env", "FROM_BASE=1\n");
  p.write("compose.yaml",
          "services:\n"
          "  web:\n"
          "    extends: {file: common/base.yaml, service: base}\n"
          "    environment: {X: y}\n"
          "  worker:\n"
          "    extends: web\n"
          "    command: work\n");
  auto r = p.load({"compose.yaml"});
  ASSERT_TRUE(r) << r.error().message();
  const Service& worker = r->services.at("worker");
  EXPECT_EQ(worker.image, "app");
  EXPECT_EQ(worker.build->context, p.path("common/src"));
  EXPECT_EQ(worker.volumes.at(0).source, p.path("common/data"));
  EXPECT_EQ(worker.environment, (MappingWithEquals{{"FROM_BASE", "1"}, {"X", "y"}}));
  EXPECT_EQ(*worker.command, (std::vector<std::string>{"work"}));
}

TEST(ExtendsTest, CyclesAndMissingServices) {
  EXPECT_EQ(loadError("services:\n  a: {extends: b}\n  b: {extends: a}\n"),
            "compose.yaml:2:16: services.a.extends: circular extends: a (compose.yaml) -> b "
            "(compose.yaml) -> a");
  EXPECT_EQ(loadError("services:\n  a: {extends: nope}\n"),
            "compose.yaml:2:16: services.a.extends: cannot extend service \"a\": service \"nope\" not found");
}

TEST(IncludeTest, ImportsServicesWithTheirOwnEnvironment) {
  TempProject p;
  p.write("db/compose.yaml",
          "services:\n  db:\n    image: postgres:${PG}\n    env_file: db.env\n    environment: [PG]\n");
  p.write("db/db.env", "X=1\n");
  p.write("db/.env", "PG=16\n");
  p.write("compose.yaml",
          "include:\n  - db/compose.yaml\nservices:\n  web:\n    image: w\n    depends_on: [db]\n");
  auto r = p.load({"compose.yaml"});
  ASSERT_TRUE(r) << r.error().message();
  const Service& db = r->services.at("db");
  EXPECT_EQ(db.image, "postgres:16");
  EXPECT_EQ(db.envFiles.at(0).path, p.path("db/db.env"));
  EXPECT_EQ(db.environment, (MappingWithEquals{{"PG", "16"}, {"X", "1"}}));
}

TEST(IncludeTest, Cycle) {
  TempProject p;
  p.write("a.yaml", "include: [b.yaml]\nservices:\n  a: {image: a}\n");
  p.write("b.yaml", "include: [a.yaml]\nservices:\n  b: {image: b}\n");
  EXPECT_EQ(p.load({"a.yaml"}).error().message(),
            "b.yaml:1:11: include[0]: include cycle detected: a.yaml -> b.yaml -> a.yaml");
}

// ---- canonical forms ------------------------------------------------------------------------------

TEST(CanonicalTest, ShortAndLongSyntaxMeetInOneForm) {
  auto r = loadYaml(
      "services:\n"
      "  app:\n"
      "    image: app\n"
      "    command: run --fast 'a b'\n"
      "    healthcheck: {test: curl -f localhost, interval: 1m30s, retries: 3}\n"
      "    depends_on:\n"
      "      db: {condition: service_healthy, restart: true}\n"
      "    ports: [\"127.0.0.1:8000-8001:80-81/udp\", {target: 9000, published: 9001}]\n"
      "    secrets: [token, {source: cert, target: /etc/cert, mode: 0400}]\n"
      "    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 512}\n"
      "    deploy: {resources: {limits: {cpus: '0.5', memory: 512m}}}\n"
      "    stop_grace_period: 1m\n"
      "    extra_hosts: {db: 10.0.0.1}\n"
      "  db: {image: postgres}\n"
      "secrets:\n  token: {environment: TOKEN}\n  cert: {file: ./cert.pem}\n");
  ASSERT_TRUE(r) << r.error().message();
  const Service& app = r->services.at("app");
  EXPECT_EQ(*app.command, (std::vector<std::string>{"run", "--fast", "a b"}));
  EXPECT_EQ(*app.healthcheck->test, (std::vector<std::string>{"CMD-SHELL", "curl -f localhost"}));
  EXPECT_EQ(*app.healthcheck->interval, std::chrono::seconds(90));
  EXPECT_EQ(app.dependsOn.at("db").condition, "service_healthy");
  EXPECT_TRUE(app.dependsOn.at("db").restart);
  EXPECT_TRUE(app.dependsOn.at("db").required);
  ASSERT_EQ(app.ports.size(), 3u);
  EXPECT_EQ(app.ports[1].published, "8001");
  EXPECT_EQ(app.ports[1].protocol, "udp");
  EXPECT_EQ(app.ports[2].published, "9001");
  EXPECT_EQ(app.secrets[0].target, "/run/secrets/token");
  EXPECT_EQ(*app.secrets[1].mode, 0400u);
  EXPECT_EQ(app.ulimits.at("nofile").hard, 2048);
  EXPECT_EQ(app.ulimits.at("nproc").single, 512);
  EXPECT_DOUBLE_EQ(app.deploy->limits->cpus, 0.5);
  EXPECT_EQ(app.deploy->limits->memory, 512 * 1024 * 1024);
  EXPECT_EQ(*app.stopGracePeriod, std::chrono::seconds(60));
  EXPECT_EQ(app.extraHosts.at("db"), (std::vector<std::string>{"10.0.0.1"}));
}

TEST(CanonicalTest, NormalizationAddsDefaults) {
  auto r = loadYaml(
      "services:\n  a:\n    build: .\n    links: [b]\n  b:\n    image: x\n"
      "    network_mode: host\nvolumes:\n  data: {}\n  ext: {external: true}\n");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->services.at("a").build->dockerfile, "Dockerfile");
  EXPECT_EQ(r->services.at("a").networks.count("default"), 1u);
  EXPECT_EQ(r->services.at("b").networks.size(), 0u);
  EXPECT_TRUE(r->services.at("a").dependsOn.at("b").restart);
  EXPECT_EQ(r->networks.at("default").name, "test_default");
  EXPECT_EQ(r->volumes.at("data").name, "test_data");
  EXPECT_EQ(r->volumes.at("ext").name, "ext");
}

TEST(CanonicalTest, NoInterpolateKeepsVariables) {
  LoadOptions o;
  o.interpolate = false;
  auto r = loadYaml(
      "services:\n  a:\n    image: app:${TAG}\n    ports: ['${PORT:-80}:80']\n"
      "    deploy: {replicas: '${N}'}\n",
      o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->services.at("a").image, "app:${TAG}");
  EXPECT_EQ(r->services.at("a").ports.at(0).unparsed, "${PORT:-80}:80");
  EXPECT_FALSE(r->services.at("a").deploy->replicas.has_value());
}

TEST(CanonicalTest, ExtensionsAreKept) {
  auto r = loadYaml("x-common: {a: 1}\nservices:\n  a:\n    image: x\n    x-tier: web\n");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->extensions.at("x-common").find("a")->asInt(), 1);
  EXPECT_EQ(r->services.at("a").extensions.at("x-tier").asString(), "web");
}

}  // namespace
}  // namespace berth::spec
