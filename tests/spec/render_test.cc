#include "spec/render.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "spec/hash.h"
#include "spec/loader.h"
#include "spec_test_util.h"

namespace berth::spec {
namespace {

using testing::loadYaml;
using testing::TempProject;

constexpr const char* kCompose = R"(name: shop
services:
  web:
    image: nginx:1.25
    command: nginx -g 'daemon off;'
    ports:
      - "8080:80"
    environment:
      MODE: prod
      EMPTY:
    depends_on: [api]
    healthcheck:
      test: curl -f http://localhost
      interval: 90s
    x-tier: front
  api:
    build: ./api
    deploy:
      replicas: 2
      resources:
        limits: {memory: 256m}
    volumes:
      - data:/var/lib/api
volumes:
  data: {}
x-owner: team
)";

TEST(RenderTest, YamlHasComposeShape) {
  TempProject p;
  p.write("compose.yaml", kCompose);
  auto r = p.load({"compose.yaml"}, {}, {}, std::nullopt);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(renderYaml(*r),
            "name: shop\n"
            "services:\n"
            "  api:\n"
            "    build:\n"
            "      context: " +
                p.path("api") +
                "\n"
                "      dockerfile: Dockerfile\n"
                "    deploy:\n"
                "      replicas: 2\n"
                "      resources:\n"
                "        limits:\n"
                "          memory: \"268435456\"\n"
                "    networks:\n"
                "      default: null\n"
                "    volumes:\n"
                "      - type: volume\n"
                "        source: data\n"
                "        target: /var/lib/api\n"
                "        volume: {}\n"
                "  web:\n"
                "    command:\n"
                "      - nginx\n"
                "      - -g\n"
                "      - daemon off;\n"
                "    depends_on:\n"
                "      api:\n"
                "        condition: service_started\n"
                "        required: true\n"
                "    environment:\n"
                "      EMPTY: null\n"
                "      MODE: prod\n"
                "    healthcheck:\n"
                "      test:\n"
                "        - CMD-SHELL\n"
                "        - curl -f http://localhost\n"
                "      interval: 1m30s\n"
                "    image: nginx:1.25\n"
                "    networks:\n"
                "      default: null\n"
                "    ports:\n"
                "      - mode: ingress\n"
                "        target: 80\n"
                "        published: \"8080\"\n"
                "        protocol: tcp\n"
                "    x-tier: front\n"
                "networks:\n"
                "  default:\n"
                "    name: shop_default\n"
                "volumes:\n"
                "  data:\n"
                "    name: shop_data\n"
                "x-owner: team\n");
}

TEST(RenderTest, JsonDropsNestedExtensionsLikeCompose) {
  auto r = loadYaml("services:\n  a:\n    image: x\n    x-tier: front\nx-owner: team\n");
  ASSERT_TRUE(r) << r.error().message();
  const auto json = nlohmann::json::parse(renderJson(*r));
  EXPECT_FALSE(json["services"]["a"].contains("x-tier"));
  EXPECT_EQ(json["x-owner"], "team");
  EXPECT_EQ(json["services"]["a"]["image"], "x");
}

TEST(RenderTest, StringsThatLookLikeOtherTypesAreQuoted) {
  Value v = Value::mapping();
  v.set("a", Value::string("true"));
  v.set("b", Value::string("0755"));
  v.set("c", Value::string(""));
  v.set("d", Value::string("- dash"));
  v.set("e", Value::string("a: b"));
  v.set("f", Value::string("line1\nline2\n"));
  v.set("g", Value::string("caf\xc3\xa9"));
  v.set("h", Value::string("tab\there"));
  v.set("i", Value::number(3));
  EXPECT_EQ(writeYaml(v),
            "a: \"true\"\n"
            "b: \"0755\"\n"
            "c: \"\"\n"
            "d: \"- dash\"\n"
            "e: \"a: b\"\n"
            "f: |\n"
            "  line1\n"
            "  line2\n"
            "g: caf\xc3\xa9\n"
            "h: \"tab\\there\"\n"
            "i: 3.0\n");
}

// The printed YAML loads back to the same model, for every project the conformance corpus
// describes (the project's own files, all options on).
TEST(RenderTest, YamlRoundTripsThroughTheLoader) {
  const std::filesystem::path corpus =
      std::getenv("BERTH_CONFORMANCE_DIR") != nullptr
          ? std::filesystem::path(std::getenv("BERTH_CONFORMANCE_DIR"))
          : (std::filesystem::path(__FILE__).parent_path() / "../../../shared/conformance")
                .lexically_normal();
  if (!std::filesystem::exists(corpus / "index.json")) {
    GTEST_SKIP() << "conformance corpus not found at " << corpus;
  }
  std::ifstream in(corpus / "index.json");
  const auto index = nlohmann::json::parse(in);
  int checked = 0;
  for (const auto& entry : index["cases"]) {
    const std::filesystem::path dir = corpus / entry["path"].get<std::string>();
    std::ifstream caseIn(dir / "case.json");
    const auto c = nlohmann::json::parse(caseIn);
    if (c.value("kind", "project") != "project" || c.value("compare", "") == "error" || c.contains("cli")) {
      continue;
    }
    ConfigDetails d;
    for (const auto& f : c.value("files", nlohmann::json::array())) {
      d.files.push_back((dir / f.get<std::string>()).string());
    }
    if (d.files.empty()) continue;
    d.workingDir = dir.string();
    d.projectName = "roundtrip";
    d.environment["HOME"] = "/home/u";
    LoadOptions o;
    o.consistency = false;
    auto first = load(d, o);
    if (!first) continue;  // needs an environment the case provides
    TempProject p;
    p.write("printed.yaml", renderYaml(*first));
    ConfigDetails again = d;
    again.files = {p.path("printed.yaml")};
    LoadOptions noInterpolation = o;
    noInterpolation.interpolate = false;
    auto second = load(again, noInterpolation);
    ASSERT_TRUE(second) << entry["path"] << ": the printed YAML does not load: " << second.error().message()
                        << "\n"
                        << renderYaml(*first);
    EXPECT_EQ(renderYaml(*second), renderYaml(*first)) << entry["path"];
    ++checked;
  }
  EXPECT_GT(checked, 150);
}

TEST(HashTest, Sha256KnownVectors) {
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

std::string hashOf(const std::string& yaml, const std::string& service = "web") {
  auto r = loadYaml(yaml);
  if (!r) return "ERROR: " + r.error().message();
  return serviceConfigHash(*r, r->services.at(service));
}

TEST(HashTest, StableAndInsensitiveToKeyOrder) {
  const std::string a =
      "services:\n  web:\n    image: x\n    environment: {A: '1', B: '2'}\n"
      "    labels: [l=1, m=2]\n";
  const std::string b =
      "services:\n  web:\n    labels: {m: '2', l: '1'}\n"
      "    environment: [B=2, A=1]\n    image: x\n";
  EXPECT_EQ(hashOf(a), hashOf(a));
  EXPECT_EQ(hashOf(a), hashOf(b));
  EXPECT_EQ(hashOf(a).size(), 64u);
}

TEST(HashTest, IgnoresReplicasScaleAndDependencies) {
  const std::string base = "services:\n  web:\n    image: x\n  db:\n    image: y\n";
  const std::string scaled =
      "services:\n  web:\n    image: x\n    deploy: {replicas: 5}\n    scale: 5\n"
      "    depends_on: [db]\n    profiles: [all]\n    pull_policy: always\n"
      "  db:\n    image: y\n";
  LoadOptions all;
  all.profiles = {"*"};
  TempProject p;
  p.write("a.yaml", base).write("b.yaml", scaled);
  auto one = p.load({"a.yaml"}, all);
  auto two = p.load({"b.yaml"}, all);
  ASSERT_TRUE(one && two);
  EXPECT_EQ(serviceConfigHash(*one, one->services.at("web")),
            serviceConfigHash(*two, two->services.at("web")));
}

TEST(HashTest, ChangesWithWhatTheContainerGets) {
  const std::string base = hashOf("services:\n  web:\n    image: x\n");
  EXPECT_NE(base, hashOf("services:\n  web:\n    image: x:2\n"));
  EXPECT_NE(base, hashOf("services:\n  web:\n    image: x\n    environment: [A=1]\n"));
  EXPECT_NE(base, hashOf("services:\n  web:\n    image: x\n    ports: ['80:80']\n"));
  EXPECT_NE(base,
            hashOf("services:\n  web:\n    image: x\n    deploy: {resources: {limits: {cpus: '1'}}}\n"));
  EXPECT_EQ(base, hashOf("services:\n  web:\n    image: x\n    x-note: ignored\n"));
  EXPECT_NE(hashOf("services:\n  web:\n    image: x\n    configs: [c]\nconfigs:\n  c: {content: one}\n"),
            hashOf("services:\n  web:\n    image: x\n    configs: [c]\nconfigs:\n  c: {content: two}\n"));
}

}  // namespace
}  // namespace berth::spec
