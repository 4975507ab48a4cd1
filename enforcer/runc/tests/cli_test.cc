// eci-runc reads argv as runc 1.1.5 (urfave/cli v1.22.1 + Go's flag package) does.
#include "cli.h"

#include <gtest/gtest.h>

namespace eci::runc::cli {
namespace {

Invocation ok(std::vector<std::string> argv) {
  auto r = parse(argv);
  EXPECT_EQ(r.usageError, "");
  return r;
}

std::string err(std::vector<std::string> argv) {
  auto r = parse(argv);
  EXPECT_NE(r.usageError, "");
  return r.usageError;
}

TEST(RuncCli, OneDashGlobalFlagTakesItsValue) {
  // Issue 12 item 2: `-root X create` was read as verb "X" and exec'd plain runc.
  auto inv = ok({"-root", "/r", "-log", "/l", "create", "--bundle", "/b", "c1"});
  EXPECT_EQ(inv.verb, "create");
  EXPECT_EQ(inv.global("root"), "/r");
  EXPECT_EQ(inv.global("log"), "/l");
  EXPECT_EQ(inv.flag("bundle"), "/b");
  ASSERT_EQ(inv.args.size(), 1u);
  EXPECT_EQ(inv.args[0], "c1");
  EXPECT_EQ(inv.globalArgv, (std::vector<std::string>{"-root", "/r", "-log", "/l"}));
}

TEST(RuncCli, EqualsFormsAndLastWins) {
  auto inv = ok({"--root=/a", "-root=/b", "--log-format", "json", "state", "x"});
  EXPECT_EQ(inv.global("root"), "/b");
  EXPECT_EQ(inv.global("log-format"), "json");
  EXPECT_EQ(inv.verb, "state");
}

TEST(RuncCli, BoolFlagsNeverTakeTheNextWord) {
  auto inv = ok({"--debug", "create", "c1"});
  EXPECT_EQ(inv.verb, "create");
  inv = ok({"-systemd-cgroup=false", "--debug=1", "run", "c1"});
  EXPECT_EQ(inv.verb, "run");
  EXPECT_EQ(inv.global("systemd-cgroup"), "false");
  EXPECT_NE(err({"--debug=maybe", "run", "c1"}), "");
}

TEST(RuncCli, ValueFlagTakesAnyNextWord) {
  auto inv = ok({"--log", "-root", "create", "c1"});
  EXPECT_EQ(inv.global("log"), "-root");
  EXPECT_FALSE(inv.global("root"));
  EXPECT_EQ(inv.verb, "create");
  EXPECT_NE(err({"--root"}), "");  // flag needs an argument
}

TEST(RuncCli, UnknownAndBadFlagsAreErrors) {
  EXPECT_EQ(err({"--bogus", "create", "c1"}), "flag provided but not defined: -bogus");
  EXPECT_EQ(err({"-x", "state", "c1"}), "flag provided but not defined: -x");
  EXPECT_NE(err({"---root", "/r", "state", "c1"}), "");
  EXPECT_NE(err({"-=x", "state", "c1"}), "");
  EXPECT_NE(err({"create", "--bogus", "c1"}), "");
  EXPECT_NE(err({"run", "c1", "--bogus"}), "");  // reordered in front, then refused
}

TEST(RuncCli, DoubleDashEndsGlobalFlags) {
  auto inv = ok({"--root", "/r", "--", "create", "c1"});
  EXPECT_EQ(inv.verb, "create");
  EXPECT_EQ(inv.args, (std::vector<std::string>{"c1"}));
  inv = ok({"--", "--root"});
  EXPECT_EQ(inv.verb, "--root");
  EXPECT_FALSE(inv.verbKnown);
}

TEST(RuncCli, VerbFlagsAfterPositionalAreReordered) {
  auto inv = ok({"create", "c1", "--bundle", "/b", "--pid-file=/p"});
  EXPECT_EQ(inv.flag("bundle"), "/b");
  EXPECT_EQ(inv.flag("pid-file"), "/p");
  EXPECT_EQ(inv.args, (std::vector<std::string>{"c1"}));
  inv = ok({"run", "-b", "/b", "-d", "c1"});
  EXPECT_EQ(inv.flag("bundle"), "/b");
  EXPECT_TRUE(inv.flagTrue("detach"));
  EXPECT_EQ(inv.args, (std::vector<std::string>{"c1"}));
}

TEST(RuncCli, ReorderTakesTheWordAfterABoolFlagAsItsValue) {
  // urfave/cli v1.22.1's reorderArgs does not know bool flags: `run c1 --detach x` becomes
  // `--detach x c1`, flag parsing stops at x, and runc sees two arguments (and refuses).
  auto inv = ok({"run", "c1", "--detach", "x"});
  EXPECT_EQ(inv.args, (std::vector<std::string>{"x", "c1"}));
}

TEST(RuncCli, DoubleDashInVerbArgs) {
  auto inv = ok({"create", "--bundle", "/b", "--", "c1"});
  EXPECT_EQ(inv.args, (std::vector<std::string>{"c1"}));
  inv = ok({"create", "c1", "--", "-b"});
  EXPECT_EQ(inv.args, (std::vector<std::string>{"c1", "--", "-b"}));
  EXPECT_FALSE(inv.flag("bundle"));
}

TEST(RuncCli, TwoFormsOfOneFlagAreAnError) {
  EXPECT_EQ(err({"create", "--bundle", "/a", "-b", "/b", "c1"}),
            "Cannot use two forms of the same flag: b bundle");
  EXPECT_EQ(err({"exec", "--env=A", "-e", "B", "c1", "true"}),
            "Cannot use two forms of the same flag: e env");
  EXPECT_TRUE(parse({"create", "--bundle", "/a", "-b", "/b", "c1"}).usageErrorInVerb);
  EXPECT_FALSE(parse({"-x", "create"}).usageErrorInVerb);
  auto inv = ok({"create", "-b", "/a", "-b", "/b", "c1"});
  EXPECT_EQ(inv.flag("bundle"), "/b");
}

TEST(RuncCli, ExecAndPsKeepTheirOrder) {
  auto inv = ok({"exec", "-t", "c1", "ls", "-l", "--bogus"});
  EXPECT_EQ(inv.args, (std::vector<std::string>{"c1", "ls", "-l", "--bogus"}));
  EXPECT_TRUE(inv.flagTrue("tty"));
  inv = ok({"ps", "c1", "-ef"});
  EXPECT_EQ(inv.args, (std::vector<std::string>{"c1", "-ef"}));
}

TEST(RuncCli, IntFlagsAreValidated) {
  EXPECT_EQ(parse({"create", "--preserve-fds", "0x3", "c1"}).usageError, "");
  EXPECT_NE(err({"create", "--preserve-fds", "three", "c1"}), "");
}

TEST(RuncCli, EciFlagsAreGlobalAndStripped) {
  auto inv = ok({"--eci-runc", "/x", "-eci-run-dir=/d", "--root", "/r", "state", "c"});
  ASSERT_EQ(inv.eciFlags.size(), 2u);
  EXPECT_EQ(inv.eciFlags[0].name, "eci-runc");
  EXPECT_EQ(inv.eciFlags[1].value, "/d");
  EXPECT_EQ(inv.globalArgv, (std::vector<std::string>{"--root", "/r"}));
  EXPECT_NE(err({"--eci-bogus", "1", "state", "c"}), "");
  EXPECT_NE(err({"state", "--eci-runc", "/x", "c"}), "");  // not a verb flag
}

TEST(RuncCli, HelpVersionAndVerbs) {
  EXPECT_TRUE(ok({"--help"}).helpOrVersion);
  EXPECT_TRUE(ok({"-v"}).helpOrVersion);
  EXPECT_FALSE(ok({"-h=false", "state", "x"}).helpOrVersion);
  EXPECT_TRUE(ok({"create", "-h"}).verbHelp);
  EXPECT_FALSE(ok({"bogus", "x"}).verbKnown);
  for (const char* v :
       {"checkpoint", "create", "delete", "events", "exec", "kill", "list", "pause", "ps",
        "restore", "resume", "run", "spec", "start", "state", "update", "features", "help", "h"})
    EXPECT_TRUE(isKnownVerb(v)) << v;
  EXPECT_FALSE(isKnownVerb("init"));  // runc's internal re-exec, not a command
  EXPECT_TRUE(verbCreatesContainer("create"));
  EXPECT_TRUE(verbCreatesContainer("run"));
  EXPECT_TRUE(verbCreatesContainer("restore"));
  EXPECT_FALSE(verbCreatesContainer("exec"));
}

TEST(RuncCli, RewrittenArgvReplacesTheBundle) {
  auto inv = ok({"run", "c1", "-b", "rel", "--detach", "--pid-file", "/p"});
  EXPECT_EQ(verbArgvWithBundle(inv, "/priv"),
            (std::vector<std::string>{"run", "--detach=true", "--pid-file=/p", "--bundle=/priv",
                                      "--", "c1"}));
  // runc reads it back the same way.
  std::vector<std::string> again = verbArgvWithBundle(inv, "/priv");
  auto re = ok(again);
  EXPECT_EQ(re.flag("bundle"), "/priv");
  EXPECT_EQ(re.args, inv.args);
  EXPECT_TRUE(re.flagTrue("detach"));
}

}  // namespace
}  // namespace eci::runc::cli
