// The route table (gorilla/mux order) and the command list's CLI table.
#include "eci/apiproxy/routes.h"

#include <gtest/gtest.h>

#include <set>

namespace eci::apiproxy {
namespace {

std::string cmd(std::string_view method, std::string_view path) {
  auto m = matchRoute(method, path);
  return m.spec == nullptr ? "<none>" : m.command;
}

TEST(Routes, ContainerRoutes) {
  EXPECT_EQ(cmd("GET", "/containers/json"), "container ls");
  EXPECT_EQ(cmd("POST", "/containers/create"), "container create");
  EXPECT_EQ(cmd("POST", "/containers/abc/start"), "container start");
  EXPECT_EQ(cmd("GET", "/containers/abc/json"), "container inspect");
  EXPECT_EQ(cmd("POST", "/containers/abc/exec"), "container exec");
  EXPECT_EQ(cmd("POST", "/exec/e1/start"), "container exec");
  EXPECT_EQ(cmd("PUT", "/containers/abc/archive"), "container cp");
  EXPECT_EQ(cmd("HEAD", "/containers/abc/archive"), "container cp");
  EXPECT_EQ(cmd("DELETE", "/containers/abc"), "container rm");
  EXPECT_EQ(cmd("POST", "/commit"), "container commit");
}

TEST(Routes, NameVariablesCrossSlashesGreedily) {
  auto m = matchRoute("GET", "/containers/a/start/json");
  ASSERT_NE(m.spec, nullptr);
  EXPECT_EQ(m.command, "container inspect");
  ASSERT_EQ(m.vars.size(), 1u);
  EXPECT_EQ(m.vars[0], "a/start");
  // "create" as a container name on a start route is a start, not a create.
  EXPECT_EQ(cmd("POST", "/containers/create/start"), "container start");
  auto push = matchRoute("POST", "/images/registry:5000/org/img/push");
  ASSERT_NE(push.spec, nullptr);
  EXPECT_EQ(push.vars[0], "registry:5000/org/img");
}

TEST(Routes, FirstRegisteredMatchWins) {
  // GET /containers/json is registered before /containers/{name:.*}/json.
  EXPECT_TRUE(matchRoute("GET", "/containers/json").vars.empty());
  // The checkpoint DELETE is registered before the container DELETE.
  EXPECT_EQ(cmd("DELETE", "/containers/a/checkpoints/b"), "checkpoint rm");
  EXPECT_EQ(cmd("DELETE", "/containers/a/b"), "container rm");
}

TEST(Routes, MethodsAndCaseMatterAsInMux) {
  EXPECT_EQ(cmd("post", "/containers/create"), "<none>");
  EXPECT_EQ(cmd("GET", "/containers/create"), "<none>");
  EXPECT_EQ(cmd("POST", "/Containers/create"), "<none>");
  EXPECT_EQ(cmd("GET", "/containers/json/"), "<none>");
}

TEST(Routes, ImagesCreateAndOthers) {
  EXPECT_EQ(cmd("POST", "/images/create"), "image pull");
  EXPECT_EQ(cmd("POST", "/images/x/push"), "image push");
  EXPECT_EQ(cmd("GET", "/images/get"), "image save");
  EXPECT_EQ(cmd("POST", "/build"), "image build");
  EXPECT_EQ(cmd("POST", "/session"), "image build");
  EXPECT_EQ(cmd("POST", "/grpc"), "image build");
  EXPECT_EQ(cmd("POST", "/build/prune"), "builder prune");
  EXPECT_EQ(cmd("GET", "/_ping"), "_ping");
  EXPECT_EQ(cmd("HEAD", "/_ping"), "_ping");
  EXPECT_EQ(cmd("GET", "/networks/"), "network ls");
  EXPECT_EQ(cmd("GET", "/networks/n1"), "network inspect");
  EXPECT_EQ(cmd("OPTIONS", "/anything/at/all"), "options");
  EXPECT_EQ(cmd("DELETE", "/debug/pprof/heap"), "debug");
  EXPECT_EQ(cmd("GET", "/services/a/b"), "<none>");  // {id} does not cross '/'
}

// Every route's command is reachable from the CLI table (or is one of the specials), so every
// request can be allowed or denied by some command-list entry.
TEST(CliTable, EveryRouteCommandIsNamedByTheTable) {
  std::set<std::string> named;
  for (const auto& c : cliTable()) {
    for (const char* p : c.core) named.insert(p);
    for (const char* p : c.needs) named.insert(p);
  }
  const std::set<std::string> specials = {"_ping", "options", "debug"};
  for (const auto& r : routeTable()) {
    const std::string c = r.command;
    if (specials.count(c) != 0 || c.rfind("plugin ", 0) == 0) continue;
    EXPECT_TRUE(named.count(c) != 0) << r.method << " " << r.pattern << " -> " << c;
  }
}

TEST(CliTable, NamesAreUnique) {
  std::set<std::string> names;
  for (const auto& c : cliTable()) EXPECT_TRUE(names.insert(c.name).second) << c.name;
}

CommandList deny(std::vector<std::string> c) {
  return {CommandList::Type::kDeny, std::move(c)};
}
CommandList allowList(std::vector<std::string> c) {
  return {CommandList::Type::kAllow, std::move(c)};
}

TEST(CommandList, DenyByTopLevelName) {
  EXPECT_FALSE(commandAllowed(deny({"push"}), "image push"));
  EXPECT_TRUE(commandAllowed(deny({"push"}), "image pull"));
  EXPECT_FALSE(commandAllowed(deny({"ps"}), "container ls"));
  EXPECT_FALSE(commandAllowed(deny({"rmi"}), "image rm"));
}

TEST(CommandList, DenyByGroupSubcommandAlias) {
  EXPECT_FALSE(commandAllowed(deny({"image push"}), "image push"));
  EXPECT_FALSE(commandAllowed(deny({"container ls"}), "container ls"));
}

TEST(CommandList, DenyCompositeBlocksItsDefiningRequestOnly) {
  EXPECT_FALSE(commandAllowed(deny({"run"}), "container create"));
  EXPECT_TRUE(commandAllowed(deny({"run"}), "image pull"));
  EXPECT_TRUE(commandAllowed(deny({"run"}), "container start"));
}

TEST(CommandList, DenyGroupWildcards) {
  EXPECT_FALSE(commandAllowed(deny({"container*"}), "container create"));
  EXPECT_FALSE(commandAllowed(deny({"container*"}), "container exec"));
  EXPECT_TRUE(commandAllowed(deny({"container*"}), "image pull"));
  EXPECT_FALSE(commandAllowed(deny({"image*"}), "image ls"));
  EXPECT_FALSE(commandAllowed(deny({"image*"}), "image build"));
  EXPECT_FALSE(commandAllowed(deny({"build*"}), "image build"));
  EXPECT_FALSE(commandAllowed(deny({"build*"}), "builder prune"));
  EXPECT_TRUE(commandAllowed(deny({"build*"}), "image push"));
  EXPECT_FALSE(commandAllowed(deny({"volume*"}), "volume create"));
  EXPECT_FALSE(commandAllowed(deny({"network*"}), "network connect"));
  EXPECT_FALSE(commandAllowed(deny({"system*"}), "system events"));
  EXPECT_FALSE(commandAllowed(deny({"system*"}), "container prune"));   // system prune
  EXPECT_FALSE(commandAllowed(deny({"container"}), "container wait"));  // bare group name
}

TEST(CommandList, BareStarNamesNothing) {
  EXPECT_TRUE(commandAllowed(deny({"*"}), "container create"));
  EXPECT_FALSE(commandAllowed(allowList({"*"}), "container create"));
}

TEST(CommandList, PingAndVersionAlwaysPass) {
  EXPECT_TRUE(commandAllowed(allowList({}), "_ping"));
  EXPECT_TRUE(commandAllowed(allowList({}), "version"));
  EXPECT_TRUE(commandAllowed(deny({"version"}), "version"));
}

TEST(CommandList, AllowListPermitsWhatTheCommandNeeds) {
  const auto run = allowList({"run"});
  for (const char* c : {"container create", "container start", "container attach", "container wait",
                        "image pull", "container inspect"}) {
    EXPECT_TRUE(commandAllowed(run, c)) << c;
  }
  EXPECT_FALSE(commandAllowed(run, "container exec"));
  EXPECT_FALSE(commandAllowed(run, "image push"));
  EXPECT_TRUE(commandAllowed(allowList({"ps"}), "container ls"));
  EXPECT_FALSE(commandAllowed(allowList({"ps"}), "container create"));
  EXPECT_TRUE(commandAllowed(allowList({"image*"}), "image push"));
  EXPECT_FALSE(commandAllowed(allowList({"image*"}), "container create"));
}

TEST(CommandList, EmptyDenyListAllowsEverything) {
  EXPECT_TRUE(commandAllowed(deny({}), "image push"));
}

}  // namespace
}  // namespace eci::apiproxy
