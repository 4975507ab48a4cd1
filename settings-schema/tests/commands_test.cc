#include "eci/settings/commands.h"

#include <gtest/gtest.h>

namespace eci::settings {
namespace {

TEST(Commands, AcceptsRealCommandsAndWildcards) {
  for (const char* c :
       {"push", "build", "ps", "run", "image push", "container ls", "volume prune", "system df",
        "container*", "image*", "volume*", "network*", "build*", "system*", "swarm join-token"}) {
    EXPECT_TRUE(checkCommand(c).ok) << c;
  }
}

TEST(Commands, UnknownWithSuggestion) {
  auto r = checkCommand("pusj");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, "\"pusj\" is not a docker command; did you mean \"push\"?");
  EXPECT_EQ(checkCommand("PUSH").reason,
            "\"PUSH\" is not a docker command; did you mean \"push\"?");
  EXPECT_EQ(checkCommand("image pussh").reason,
            "\"image pussh\" is not a docker command; did you mean \"image push\"?");
  EXPECT_EQ(checkCommand("frobnicate").reason, "\"frobnicate\" is not a docker command");
  EXPECT_EQ(checkCommand("containr*").reason,
            "\"containr*\" is not a supported wildcard (only container*, image*, volume*, "
            "network*, build*, system*); did you mean \"container*\"?");
  EXPECT_FALSE(checkCommand("").ok);
  EXPECT_FALSE(checkCommand("image  push").ok);
}

TEST(Commands, DocumentedUnsupportedAreRefused) {
  for (const char* c : {"compose", "dev", "extension", "feedback", "init", "manifest", "plugin",
                        "plugins", "sbom", "scout", "trust", "scan", "compose up", "manifest*"}) {
    auto r = checkCommand(c);
    EXPECT_FALSE(r.ok) << c;
    EXPECT_NE(r.reason.find("not supported by the docker socket command list"), std::string::npos)
        << r.reason;
  }
}

TEST(Commands, BareStarRefused) {
  auto r = checkCommand("*");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("not a documented command pattern"), std::string::npos);
}

TEST(Commands, EditDistance) {
  EXPECT_EQ(editDistance("kitten", "sitting", 5), 3u);
  EXPECT_EQ(editDistance("", "abc", 5), 3u);
  EXPECT_EQ(editDistance("abc", "abc", 0), 0u);
  EXPECT_EQ(editDistance("a", "abcdef", 2), 3u);  // bounded
  EXPECT_EQ(closestMatch("biuld", knownCommands()), "build");
  EXPECT_EQ(closestMatch("zzzzzzzz", knownCommands()), "");
}

}  // namespace
}  // namespace eci::settings
