// eci-admin's subcommands. Each lives in its own cmd_*.cc and registers itself on the CLI11 app.
// A command's callback sets the process exit code through `exitCode`: 0 success/valid,
// 1 invalid/refused, 2 usage or I/O error.
#pragma once

#include <CLI/CLI.hpp>

namespace eci::cli {

void registerValidate(CLI::App& app, int& exitCode);  // cmd_validate.cc
void registerPolicy(CLI::App& app, int& exitCode);    // cmd_policy.cc: policy [show|sign|verify|push]
void registerKeygen(CLI::App& app, int& exitCode);    // cmd_keygen.cc
void registerStatus(CLI::App& app, int& exitCode);    // cmd_status.cc
void registerLogin(CLI::App& app, int& exitCode);     // cmd_login.cc: login, logout

}  // namespace eci::cli
