// eci-admin's subcommands. Each lives in its own cmd_*.cc and registers itself on the CLI11 app.
// A command's callback sets the process exit code through `exitCode`: 0 success/valid,
// 1 invalid/refused, 2 usage or I/O error.
#pragma once

#include <CLI/CLI.hpp>

namespace eci::cli {

void registerValidate(CLI::App& app, int& exitCode);  // cmd_validate.cc
// `policy --settings F [--registry F]` shows the effective policy (cmd_policy.cc); it calls the two
// below to add `policy sign|verify` and `policy push` under it.
void registerPolicy(CLI::App& app, int& exitCode);            // cmd_policy.cc
void registerPolicySigning(CLI::App& policy, int& exitCode);  // cmd_sign.cc: sign, verify
void registerPolicyPush(CLI::App& policy, int& exitCode);     // cmd_push.cc: push
void registerKeygen(CLI::App& app, int& exitCode);            // cmd_sign.cc
void registerStatus(CLI::App& app, int& exitCode);    // cmd_status.cc (enforcer + agent state)
void registerLogin(CLI::App& app, int& exitCode);     // cmd_login.cc: login, logout
void registerSelftest(CLI::App& app, int& exitCode);  // cmd_selftest.cc (checks via the engine)
void registerExport(CLI::App& app, int& exitCode);    // cmd_export.cc: MDM artefacts
void registerAudit(CLI::App& app, int& exitCode);     // cmd_audit.cc: the audit log

}  // namespace eci::cli
