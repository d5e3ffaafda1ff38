// berth's x-berth-ssh service extension: bound into Service::ssh (inline keys and key files, with
// file:line errors), kept verbatim for the canonical output, checked against the project's services
// and covered by the configuration hash. Error messages are compared whole.
#include <gtest/gtest.h>

#include "spec/format.h"
#include "spec/hash.h"
#include "spec/loader.h"
#include "spec/render.h"
#include "spec_test_util.h"

namespace berth::spec {
namespace {

using testing::loadError;
using testing::loadYaml;
using testing::TempProject;

// Real keys (ssh-keygen), so that the checks are tried on what users paste.
const std::string kAlice =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINOzf7q2eRxO8x8FEsytkiqX8Ah9uGeTIwBo5Twdb+OE alice@laptop";
const std::string kBob =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOVOZwT22WfRGzccrZvt2ztBXrmvgBQ2r7bG+Wj77evx bob";
const std::string kCarol =
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBK5ZlDsEFMqDWe9KamgIoUUjoI3cxGFs"
    "QcAKV8N6eWQKhdVlOP9Ojqn1WCsGikXm5sJ41yl/sDCk4mKpdE/dGcM= carol";
const std::string kDave = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ2jheYQBZXl7QUr3zEMW3FhuUzPyDCsUciPbmt/pcpi";

// compose.yaml with service web carrying `ssh` (the lines under x-berth-ssh, indented by 6).
std::string webWith(const std::string& ssh, const std::string& more = "") {
  return "services:\n  web:\n    image: busybox\n    x-berth-ssh:\n" + ssh + more;
}

std::string sshError(const std::string& ssh) { return loadError(webWith(ssh)); }

// serviceConfigHash of `web: {image: busybox}` as computed before x-berth-ssh was bound.
const std::string kPlainWebHash = "94bc11bf6ffe922f4c09c352c6ba2b2bb1655fccff486b0c9cb50bd25060e2c5";

const std::string kExpected = " (expected \"TYPE BASE64 [COMMENT]\")";

// ---- the key syntax ------------------------------------------------------------------------------

TEST(SshPublicKeyTest, AcceptsTheSupportedTypesWithOrWithoutComment) {
  const std::string blob = "AAAAC3NzaC1lZDI1NTE5AAAAINOzf7q2eRxO8x8FEsytkiqX8Ah9uGeTIwBo5Twdb+OE";
  for (const char* type :
       {"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com"}) {
    EXPECT_TRUE(checkSshPublicKey(std::string(type) + " " + blob)) << type;
    EXPECT_TRUE(checkSshPublicKey(std::string(type) + "\t" + blob + "  two words  ")) << type;
  }
  EXPECT_TRUE(checkSshPublicKey(kCarol));  // one '=' of padding
  EXPECT_TRUE(checkSshPublicKey("ssh-rsa AAAAB3NzaC1yc2E= x"));
}

TEST(SshPublicKeyTest, SaysWhatIsWrong) {
  const auto error = [](const std::string& line) {
    Status st = checkSshPublicKey(line);
    return st ? std::string("OK") : st.error().message();
  };
  EXPECT_EQ(error(""), "not an SSH public key" + kExpected);
  EXPECT_EQ(error("hello world"), "not an SSH public key" + kExpected);
  EXPECT_EQ(error("AAAAC3NzaC1lZDI1NTE5 alice"), "not an SSH public key" + kExpected);
  EXPECT_EQ(error("no-pty,no-port-forwarding " + kAlice),
            "key options before the key type are not supported" + kExpected);
  EXPECT_EQ(error("command=\"echo hi\" " + kAlice),
            "key options before the key type are not supported" + kExpected);
  EXPECT_EQ(error("ssh-dss AAAAB3NzaC1kc3M="),
            "unsupported key type \"ssh-dss\" (expected one of ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, "
            "ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, sk-ssh-ed25519@openssh.com, "
            "sk-ecdsa-sha2-nistp256@openssh.com)");
  EXPECT_EQ(error("ssh-ed25519"), "missing the base64 key data after ssh-ed25519" + kExpected);
  EXPECT_EQ(error("ssh-ed25519 AAAA*AAA"), "invalid base64 key data" + kExpected);
  EXPECT_EQ(error("ssh-ed25519 AAAAC3Nza"), "invalid base64 key data" + kExpected);  // not whole quads
  EXPECT_EQ(error("ssh-ed25519 AA=A"), "invalid base64 key data" + kExpected);
  EXPECT_EQ(error("-----BEGIN OPENSSH PRIVATE KEY-----"),
            "a private key, not an SSH public key (use the .pub file)");
}

// ---- binding ------------------------------------------------------------------------------------

TEST(SshAccessTest, InlineKeysThenFileKeysInOrder) {
  TempProject p;
  p.write("keys/team.pub", "# the team\n\n" + kBob + "\r\n   \n  " + kCarol + "  \n# old: ssh-rsa AAAA\n");
  p.write("keys/dave.pub", kDave);  // no final newline
  p.write("compose.yaml", webWith("      authorized_keys:\n"
                                  "        - \"" +
                                      kAlice +
                                      "\"\n"
                                      "        - file: ./keys/team.pub\n"
                                      "        - file: keys/dave.pub\n"
                                      "      user: app\n"
                                      "      allow_forwarding: true\n"
                                      "      to: [client]\n",
                                  "  client:\n    image: busybox\n"));
  auto r = p.load({"compose.yaml"});
  ASSERT_TRUE(r) << r.error().message();
  const Service& web = r->services.at("web");
  ASSERT_TRUE(web.ssh.has_value());
  EXPECT_EQ(web.ssh->authorizedKeys, (std::vector<std::string>{kAlice, kBob, kCarol, kDave}));
  EXPECT_EQ(web.ssh->keyFiles, (std::vector<std::string>{p.path("keys/team.pub"), p.path("keys/dave.pub")}));
  EXPECT_EQ(web.ssh->user, "app");
  EXPECT_TRUE(web.ssh->allowForwarding);
  EXPECT_EQ(web.ssh->to, (std::vector<std::string>{"client"}));
  EXPECT_FALSE(r->services.at("client").ssh.has_value());
}

TEST(SshAccessTest, DefaultsAndAnEmptyExtension) {
  auto r = loadYaml(webWith("      authorized_keys: [\"" + kAlice + "\"]\n"));
  ASSERT_TRUE(r) << r.error().message();
  const SshAccess& a = *r->services.at("web").ssh;
  EXPECT_EQ(a.authorizedKeys, (std::vector<std::string>{kAlice}));
  EXPECT_TRUE(a.keyFiles.empty());
  EXPECT_EQ(a.user, "");  // root
  EXPECT_FALSE(a.allowForwarding);
  EXPECT_TRUE(a.to.empty());

  // A service that only reaches others has no keys of its own.
  auto empty = loadYaml("services:\n  web:\n    image: busybox\n    x-berth-ssh: {}\n");
  ASSERT_TRUE(empty) << empty.error().message();
  EXPECT_EQ(empty->services.at("web").ssh, SshAccess{});

  // x-* keys inside are tolerated, as everywhere in compose.
  EXPECT_TRUE(loadYaml(webWith("      x-note: later\n")));
}

TEST(SshAccessTest, ShapeErrorsPointAtTheValue) {
  EXPECT_EQ(loadError("services:\n  web:\n    image: busybox\n    x-berth-ssh: [a]\n"),
            "compose.yaml:4:18: services.web.x-berth-ssh: must be a mapping");
  EXPECT_EQ(loadError("services:\n  web:\n    image: busybox\n    x-berth-ssh:\n"),
            "compose.yaml:4:5: services.web.x-berth-ssh: must be a mapping");
  EXPECT_EQ(sshError("      authorized_key: []\n"),
            "compose.yaml:5:7: services.web.x-berth-ssh: additional properties 'authorized_key' not "
            "allowed; did you mean 'authorized_keys'?");
  EXPECT_EQ(sshError("      authorized_keys: \"" + kAlice + "\"\n"),
            "compose.yaml:5:24: services.web.x-berth-ssh.authorized_keys: must be a list");
  EXPECT_EQ(sshError("      user: [app]\n"),
            "compose.yaml:5:13: services.web.x-berth-ssh.user: must be a string");
  EXPECT_EQ(sshError("      allow_forwarding: maybe\n"),
            "compose.yaml:5:25: services.web.x-berth-ssh.allow_forwarding: must be a boolean");
  EXPECT_EQ(sshError("      to: client\n"), "compose.yaml:5:11: services.web.x-berth-ssh.to: must be a list");
  EXPECT_EQ(sshError("      to: [{name: client}]\n"),
            "compose.yaml:5:12: services.web.x-berth-ssh.to[0]: must be a string");
}

TEST(SshAccessTest, EveryBadKeyIsReportedWithItsPosition) {
  EXPECT_EQ(
      sshError("      authorized_keys:\n"
               "        - \"" +
               kAlice +
               "\"\n"
               "        - \"no-pty " +
               kBob +
               "\"\n"
               "        - hello\n"
               "        - ssh-ed25519 AAAA*AAA bob\n"
               "        - 42\n"
               "        - [a]\n"
               "        - {path: a.pub}\n"
               "        - {file: [a.pub]}\n"
               "        - {file: ''}\n"),
      "compose.yaml:7:11: services.web.x-berth-ssh.authorized_keys[1]: key options before the key type "
      "are not supported" +
          kExpected +
          "\n"
          "compose.yaml:8:11: services.web.x-berth-ssh.authorized_keys[2]: not an SSH public key" +
          kExpected +
          "\n"
          "compose.yaml:9:11: services.web.x-berth-ssh.authorized_keys[3]: invalid base64 key data" +
          kExpected +
          "\n"
          "compose.yaml:10:11: services.web.x-berth-ssh.authorized_keys[4]: must be an SSH public key "
          "\"TYPE BASE64 [COMMENT]\" or a mapping with `file`\n"
          "compose.yaml:11:11: services.web.x-berth-ssh.authorized_keys[5]: must be an SSH public key "
          "\"TYPE BASE64 [COMMENT]\" or a mapping with `file`\n"
          "compose.yaml:12:11: services.web.x-berth-ssh.authorized_keys[6]: missing property 'file'\n"
          "compose.yaml:12:12: services.web.x-berth-ssh.authorized_keys[6]: additional properties 'path' "
          "not allowed\n"
          "compose.yaml:13:18: services.web.x-berth-ssh.authorized_keys[7].file: must be a string\n"
          "compose.yaml:14:18: services.web.x-berth-ssh.authorized_keys[8].file: must not be empty");
}

TEST(SshAccessTest, WithoutValidationUnknownKeysAreIgnored) {
  LoadOptions o;
  o.validate = false;
  auto r = loadYaml(webWith("      authorized_keys: [\"" + kAlice + "\"]\n      shell: zsh\n"), o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->services.at("web").ssh->authorizedKeys, (std::vector<std::string>{kAlice}));
}

TEST(SshAccessTest, InterpolatedKeysAreChecked) {
  EXPECT_EQ(
      loadError(webWith("      authorized_keys: [\"${KEY}\"]\n"), {}, {{"KEY", "oops"}}),
      "compose.yaml:5:25: services.web.x-berth-ssh.authorized_keys[0]: not an SSH public key" + kExpected);
  auto r = loadYaml(webWith("      authorized_keys: [\"${KEY}\"]\n      user: ${USER}\n"), {},
                    {{"KEY", kAlice}, {"USER", "app"}});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->services.at("web").ssh->authorizedKeys, (std::vector<std::string>{kAlice}));
  EXPECT_EQ(r->services.at("web").ssh->user, "app");
}

TEST(SshAccessTest, WithoutInterpolationVariablesAreTolerated) {
  LoadOptions o;
  o.interpolate = false;
  auto r = loadYaml(webWith("      authorized_keys: [\"${KEY}\", {file: \"${KEYS}/a.pub\"}]\n"
                            "      allow_forwarding: ${FORWARD}\n"),
                    o);
  ASSERT_TRUE(r) << r.error().message();
  const SshAccess& a = *r->services.at("web").ssh;
  EXPECT_EQ(a.authorizedKeys, (std::vector<std::string>{"${KEY}"}));
  EXPECT_EQ(a.keyFiles.size(), 1u);
  EXPECT_FALSE(a.allowForwarding);
}

// ---- key files ----------------------------------------------------------------------------------

TEST(SshAccessTest, KeyFileErrorsNameTheServiceFileAndLine) {
  TempProject p;
  p.write("compose.yaml", webWith("      authorized_keys: [{file: keys/a.pub}]\n"));
  auto missing = p.load({"compose.yaml"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::NotFound);
  EXPECT_EQ(missing.error().message(),
            "services.web.x-berth-ssh.authorized_keys: key file " + p.path("keys/a.pub") + " not found");

  p.write("keys/a.pub", kAlice + "\n\n# comment\nssh-ed25519 AAAA*AAA bob\n");
  auto bad = p.load({"compose.yaml"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(bad.error().message(), "services.web.x-berth-ssh.authorized_keys: " + p.path("keys/a.pub") +
                                       ":4: invalid base64 key data" + kExpected);

  p.write("keys/a.pub", "# nobody yet\n\n");
  auto none = p.load({"compose.yaml"});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(none.error().message(),
            "services.web.x-berth-ssh.authorized_keys: key file " + p.path("keys/a.pub") + " has no keys");

  p.write("keys/a.pub", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n");
  auto secret = p.load({"compose.yaml"});
  ASSERT_FALSE(secret);
  EXPECT_EQ(secret.error().message(), "services.web.x-berth-ssh.authorized_keys: " + p.path("keys/a.pub") +
                                          ":1: a private key, not an SSH public key (use the .pub file)");
}

TEST(SshAccessTest, KeyFilesAreReadRelativeToTheProjectWithoutPathResolution) {
  TempProject p;
  p.write("keys/a.pub", kBob + "\n");
  p.write("compose.yaml", webWith("      authorized_keys: [{file: keys/a.pub}]\n"));
  LoadOptions o;
  o.resolvePaths = false;
  auto r = p.load({"compose.yaml"}, o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->services.at("web").ssh->keyFiles, (std::vector<std::string>{"keys/a.pub"}));
  EXPECT_EQ(r->services.at("web").ssh->authorizedKeys, (std::vector<std::string>{kBob}));
}

TEST(SshAccessTest, IncludedAndExtendedKeyFilesAreRebasedToTheirOwnDirectory) {
  TempProject p;
  p.write("admin/compose.yaml",
          "services:\n  admin:\n    image: busybox\n    x-berth-ssh:\n"
          "      authorized_keys: [{file: keys/ops.pub}]\n");
  p.write("admin/keys/ops.pub", kBob + "\n");
  p.write("base/common.yaml",
          "services:\n  sshable:\n    x-berth-ssh:\n"
          "      authorized_keys: [{file: ./dave.pub}]\n");
  p.write("base/dave.pub", kDave + "\n");
  p.write("compose.yaml",
          "include: [admin/compose.yaml]\n"
          "services:\n  web:\n    image: busybox\n"
          "    extends: {file: base/common.yaml, service: sshable}\n");
  auto r = p.load({"compose.yaml"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->services.at("admin").ssh->keyFiles, (std::vector<std::string>{p.path("admin/keys/ops.pub")}));
  EXPECT_EQ(r->services.at("admin").ssh->authorizedKeys, (std::vector<std::string>{kBob}));
  EXPECT_EQ(r->services.at("web").ssh->keyFiles, (std::vector<std::string>{p.path("base/dave.pub")}));
  EXPECT_EQ(r->services.at("web").ssh->authorizedKeys, (std::vector<std::string>{kDave}));

  LoadOptions relative;
  relative.resolvePaths = false;
  auto kept = p.load({"compose.yaml"}, relative);
  ASSERT_TRUE(kept) << kept.error().message();
  EXPECT_EQ(kept->services.at("admin").ssh->keyFiles, (std::vector<std::string>{"admin/keys/ops.pub"}));
  EXPECT_EQ(kept->services.at("admin").ssh->authorizedKeys, (std::vector<std::string>{kBob}));
}

// ---- consistency --------------------------------------------------------------------------------

TEST(SshAccessTest, PeersMustBeOtherServicesOfTheProject) {
  EXPECT_EQ(
      loadError(webWith("      to: [client, web, builder]\n", "  builder:\n    image: busybox\n")),
      "compose.yaml:5:12: services.web.x-berth-ssh.to[0]: service \"web\" reaches undefined service "
      "\"client\" over SSH\n"
      "compose.yaml:5:20: services.web.x-berth-ssh.to[1]: service \"web\" cannot reach itself over SSH");
  // A service of an inactive profile is still one of the project's.
  EXPECT_TRUE(
      loadYaml(webWith("      to: [tools]\n", "  tools:\n    image: busybox\n    profiles: [debug]\n")));
  LoadOptions o;
  o.consistency = false;
  EXPECT_TRUE(loadYaml(webWith("      to: [client]\n"), o));
}

// ---- hash ---------------------------------------------------------------------------------------

TEST(SshAccessTest, HashFollowsTheKeysNotTheFileNames) {
  TempProject p;
  const auto hashWith = [&](const std::string& ssh) {
    p.write("compose.yaml", webWith(ssh, "  db:\n    image: postgres\n"));
    auto r = p.load({"compose.yaml"});
    if (!r) return "ERROR: " + r.error().message();
    return serviceConfigHash(*r, r->services.at("web")) + " " + serviceConfigHash(*r, r->services.at("db"));
  };
  const auto webHash = [](const std::string& both) { return both.substr(0, 64); };
  const auto dbHash = [](const std::string& both) { return both.substr(65); };

  p.write("a.pub", kAlice + "\n").write("b.pub", kAlice + "\n# same key, other file\n");
  const std::string base = hashWith("      authorized_keys: [{file: a.pub}]\n");
  EXPECT_EQ(webHash(base), webHash(hashWith("      authorized_keys: [{file: b.pub}]\n")));
  EXPECT_EQ(webHash(base), webHash(hashWith("      authorized_keys: [\"" + kAlice + "\"]\n")));

  p.write("a.pub", kBob + "\n");  // the key changed: the containers are recreated
  EXPECT_NE(webHash(base), webHash(hashWith("      authorized_keys: [{file: a.pub}]\n")));
  p.write("a.pub", kAlice + "\n");
  EXPECT_EQ(webHash(base), webHash(hashWith("      authorized_keys: [{file: a.pub}]\n")));
  EXPECT_NE(webHash(base), webHash(hashWith("      authorized_keys: [{file: a.pub}]\n      user: app\n")));
  EXPECT_NE(webHash(base),
            webHash(hashWith("      authorized_keys: [{file: a.pub}]\n      allow_forwarding: true\n")));
  EXPECT_NE(webHash(base), webHash(hashWith("      authorized_keys: [{file: a.pub}]\n      to: [db]\n")));

  // Other services, and services without the extension, hash as before berth knew it.
  EXPECT_EQ(dbHash(base), dbHash(hashWith("      authorized_keys: [\"" + kBob + "\"]\n")));
  auto without = loadYaml("services:\n  web:\n    image: busybox\n  db:\n    image: postgres\n");
  ASSERT_TRUE(without) << without.error().message();
  EXPECT_EQ(dbHash(base), serviceConfigHash(*without, without->services.at("db")));
  EXPECT_NE(webHash(base), serviceConfigHash(*without, without->services.at("web")));
  // Pinned: what the hash of this service was before x-berth-ssh was bound.
  EXPECT_EQ(serviceConfigHash(*without, without->services.at("web")), kPlainWebHash);
}

// ---- canonical output ---------------------------------------------------------------------------

TEST(SshAccessTest, CanonicalOutputKeepsTheExtensionAsWritten) {
  TempProject p;
  p.write("keys/team.pub", kBob + "\n");
  p.write("compose.yaml", webWith("      authorized_keys:\n"
                                  "        - \"" +
                                  kAlice +
                                  "\"\n"
                                  "        - file: ./keys/team.pub\n"
                                  "      user: app\n"
                                  "      allow_forwarding: true\n"));
  auto r = p.load({"compose.yaml"});
  ASSERT_TRUE(r) << r.error().message();
  const std::string yaml = renderYaml(*r);
  EXPECT_NE(yaml.find("    x-berth-ssh:\n"
                      "      authorized_keys:\n"
                      "        - " +
                      kAlice +
                      "\n"
                      "        - file: ./keys/team.pub\n"
                      "      user: app\n"
                      "      allow_forwarding: true\n"),
            std::string::npos)
      << yaml;
  // The printed file loads back to the same project.
  p.write("printed.yaml", yaml);
  auto again = p.load({"printed.yaml"});
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(renderYaml(*again), yaml);
  EXPECT_EQ(again->services.at("web").ssh, r->services.at("web").ssh);
}

}  // namespace
}  // namespace berth::spec
