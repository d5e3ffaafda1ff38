#include "engine/image_reference.h"

#include <gtest/gtest.h>

namespace berth::engine {
namespace {

TEST(ImageReferenceTest, NormalizesAsTheEngineListsTags) {
  EXPECT_EQ(normalizeImageReference("busybox"), "busybox:latest");
  EXPECT_EQ(normalizeImageReference("docker.io/library/nginx"), "nginx:latest");
  EXPECT_EQ(normalizeImageReference("index.docker.io/library/nginx:1"), "nginx:1");
  EXPECT_EQ(normalizeImageReference("docker.io/me/app"), "me/app:latest");
  EXPECT_EQ(normalizeImageReference("localhost:5000/a"), "localhost:5000/a:latest");
  EXPECT_EQ(normalizeImageReference("localhost:5000/a:2"), "localhost:5000/a:2");
}

TEST(ImageReferenceTest, KeepsDigestsAndImageIds) {
  EXPECT_EQ(normalizeImageReference("a@sha256:00"), "a@sha256:00");
  EXPECT_EQ(normalizeImageReference("sha256:0123abcd"), "sha256:0123abcd");
}

}  // namespace
}  // namespace berth::engine
