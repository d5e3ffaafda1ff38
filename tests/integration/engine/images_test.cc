// Images: list, inspect, build (context tar, Dockerfile name, build args, target, labels, progress,
// failures), import, load/save, tag, remove.
#include "base/tar_writer.h"
#include "engine_fixture.h"

namespace berth::engine::testing {
namespace {

using ImagesTest = EngineTest;

TEST_F(ImagesTest, ListsAndInspectsBusybox) {
  auto list = engine().listImages({});
  ASSERT_TRUE(list) << list.error().message();
  const auto it = std::find_if(list->begin(), list->end(), [](const ImageSummary& s) {
    return std::find(s.repoTags.begin(), s.repoTags.end(), "busybox:latest") != s.repoTags.end();
  });
  ASSERT_NE(it, list->end());
  EXPECT_GT(it->size, 0);
  auto filtered = engine().listImages({false, {{"reference", {"busybox"}}}});
  ASSERT_TRUE(filtered);
  ASSERT_EQ(filtered->size(), 1u);
  EXPECT_EQ(filtered->front().id, it->id);

  auto image = engine().inspectImage("busybox:latest");
  ASSERT_TRUE(image) << image.error().message();
  EXPECT_EQ(image->id, it->id);
  EXPECT_EQ(image->os, "linux");
  EXPECT_EQ(image->config.cmd, (std::vector<std::string>{"sh"}));
}

TEST_F(ImagesTest, BuildsWithDockerfileNameArgsTargetAndLabels) {
  TarWriter context;
  context.addFile("Dockerfile.custom",
                  "FROM busybox:latest AS base\n"
                  "ARG GREETING=hello\n"
                  "COPY message.txt /message.txt\n"
                  "RUN echo \"$GREETING\" > /greeting\n"
                  "FROM base AS final\n"
                  "RUN echo final > /stage\n"
                  "FROM base AS other\n"
                  "RUN echo other > /stage\n");
  context.addFile("message.txt", "from the context\n");
  const std::string tag = name("built") + ":dev";
  removeImageLater(tag);
  BuildOptions options;
  options.dockerfile = "Dockerfile.custom";
  options.tags = {tag};
  options.buildArgs = {{"GREETING", "bonjour"}};
  options.target = "final";
  options.labels = labels();
  std::string progress;
  auto built =
      engine().buildImage(context.finish(), options, [&](std::string_view text) { progress += text; });
  ASSERT_TRUE(built) << built.error().message();
  EXPECT_EQ(built->imageId.rfind("sha256:", 0), 0u) << built->imageId;
  EXPECT_NE(progress.find("Step 1/"), std::string::npos) << progress;
  EXPECT_EQ(progress, built->output);

  auto image = engine().inspectImage(tag);
  ASSERT_TRUE(image) << image.error().message();
  EXPECT_EQ(image->id, built->imageId);
  EXPECT_EQ(image->config.labels.at(kTestLabel), labels().at(kTestLabel));

  ContainerCreate spec = busybox(name("run-built"), {"cat", "/greeting", "/stage", "/message.txt"});
  spec.config.image = tag;
  auto c = engine().createContainer(spec);
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_TRUE(engine().startContainer(c->id));
  EXPECT_EQ(waitExit(c->id), 0);
  std::string out;
  ASSERT_TRUE(engine().containerLogs(c->id, {}, [&](OutputStream, std::string_view d) { out += d; }, {}));
  EXPECT_EQ(out, "bonjour\nfinal\nfrom the context\n");
}

TEST_F(ImagesTest, FailingBuildStepIsAnError) {
  TarWriter context;
  context.addFile("Dockerfile", "FROM busybox:latest\nRUN echo about to fail && exit 3\n");
  std::string progress;
  BuildOptions options;
  options.tags = {name("broken") + ":dev"};
  options.labels = labels();
  auto built =
      engine().buildImage(context.finish(), options, [&](std::string_view text) { progress += text; });
  ASSERT_FALSE(built);
  EXPECT_EQ(built.error().code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(built.error().message(), "engine " + host().unixSocketUrl() + ": build image " + options.tags[0] +
                                         ": The command '/bin/sh -c echo about to fail && exit 3' returned a "
                                         "non-zero code: 3");
  EXPECT_NE(progress.find("about to fail"), std::string::npos) << progress;
}

TEST_F(ImagesTest, BadDockerfileIsAnError) {
  TarWriter context;
  context.addFile("Dockerfile", "FROM busybox:latest\nFROBNICATE now\n");
  BuildOptions options;
  options.labels = labels();
  auto built = engine().buildImage(context.finish(), options, nullptr);
  ASSERT_FALSE(built);
  EXPECT_NE(built.error().message().find("unknown instruction: FROBNICATE"), std::string::npos)
      << built.error().message();
}

TEST_F(ImagesTest, MissingDockerfileIsAnError) {
  TarWriter context;
  context.addFile("README", "no Dockerfile here\n");
  auto built = engine().buildImage(context.finish(), {}, nullptr);
  ASSERT_FALSE(built);
  EXPECT_NE(built.error().message().find("Dockerfile"), std::string::npos) << built.error().message();
}

TEST_F(ImagesTest, ImportsARootFilesystem) {
  auto rootfs = berth::testing::busyboxRootfsTar();
  ASSERT_TRUE(rootfs) << rootfs.error().message();
  const std::string repo = name("imported");
  removeImageLater(repo + ":v1");
  ImportImageOptions options;
  options.repo = repo;
  options.tag = "v1";
  options.message = "imported by a test";
  options.changes = {"CMD [\"echo\", \"imported\"]", "ENV IMPORTED=yes",
                     "LABEL " + std::string(kTestLabel) + "=x"};
  auto id = engine().importImage(*rootfs, options);
  ASSERT_TRUE(id) << id.error().message();
  EXPECT_EQ(id->rfind("sha256:", 0), 0u) << *id;
  auto image = engine().inspectImage(repo + ":v1");
  ASSERT_TRUE(image) << image.error().message();
  EXPECT_EQ(image->id, *id);
  EXPECT_EQ(image->comment, "imported by a test");
  EXPECT_EQ(image->config.cmd, (std::vector<std::string>{"echo", "imported"}));
  EXPECT_NE(std::find(image->config.env.begin(), image->config.env.end(), "IMPORTED=yes"),
            image->config.env.end());
}

TEST_F(ImagesTest, ImportOfSomethingThatIsNotATarIsAnError) {
  ImportImageOptions options;
  options.repo = name("garbage");
  auto id = engine().importImage("this is not a tar archive", options);
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().message().rfind(
                "engine " + host().unixSocketUrl() + ": import image " + options.repo + ": ", 0),
            0u)
      << id.error().message();
}

TEST_F(ImagesTest, TagsAndRemoves) {
  const std::string repo = name("tagged");
  ASSERT_TRUE(engine().tagImage("busybox:latest", repo, "v1"));
  auto busybox = engine().inspectImage("busybox:latest");
  auto tagged = engine().inspectImage(repo + ":v1");
  ASSERT_TRUE(tagged) << tagged.error().message();
  EXPECT_EQ(tagged->id, busybox->id);
  auto removed = engine().removeImage(repo + ":v1", {});
  ASSERT_TRUE(removed) << removed.error().message();
  ASSERT_EQ(removed->size(), 1u);  // only the tag: busybox:latest still holds the image
  EXPECT_EQ(removed->front().untagged, repo + ":v1");
  auto gone = engine().inspectImage(repo + ":v1");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), ErrorCode::NotFound);
  // dockerd 20.10's own words repeat themselves.
  EXPECT_EQ(gone.error().message(),
            engineError("inspect image " + repo + ":v1",
                        "no such image: " + repo + ":v1: No such image: " + repo + ":v1", 404));
  auto again = engine().removeImage(repo + ":v1", {});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::NotFound);
}

TEST_F(ImagesTest, RemovingAnImageInUseIsAConflict) {
  const std::string repo = name("inuse");
  ASSERT_TRUE(engine().importImage(*berth::testing::busyboxRootfsTar(), {repo, "v1", "", {}, ""}));
  removeImageLater(repo + ":v1");
  ContainerCreate spec = busybox(name("user"), {"true"});
  spec.config.image = repo + ":v1";
  ASSERT_TRUE(engine().createContainer(spec));
  auto removed = engine().removeImage(repo + ":v1", {});
  ASSERT_FALSE(removed);
  EXPECT_EQ(removed.error().code(), ErrorCode::Conflict);
}

TEST_F(ImagesTest, SavesAndLoadsImages) {
  const std::string repo = name("saved");
  ASSERT_TRUE(engine().tagImage("busybox:latest", repo, "v1"));
  auto tar = engine().saveImages({repo + ":v1"});
  ASSERT_TRUE(tar) << tar.error().message();
  EXPECT_GT(tar->size(), 100000u);
  ASSERT_TRUE(engine().removeImage(repo + ":v1", {}));
  ASSERT_FALSE(engine().inspectImage(repo + ":v1"));
  auto loaded = engine().loadImage(*tar);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(*loaded, (std::vector<std::string>{repo + ":v1"}));
  removeImageLater(repo + ":v1");
  EXPECT_TRUE(engine().inspectImage(repo + ":v1"));
}

TEST_F(ImagesTest, LoadingGarbageIsAnError) {
  auto loaded = engine().loadImage("definitely not an image archive");
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().message().rfind("engine " + host().unixSocketUrl() + ": load images: ", 0), 0u)
      << loaded.error().message();
}

}  // namespace
}  // namespace berth::engine::testing
