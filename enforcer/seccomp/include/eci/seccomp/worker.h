// The per-container seccomp worker. The supervisor re-executes its own binary (/proc/self/exe)
// with kWorkerFlag once per container; the worker joins the container's user and mount
// namespaces as the container's root and answers that container's notifications itself, so a
// vetted mount is one hop (caller -> worker -> caller) and the kernel re-checks every action it
// takes with the container's credentials, never with the host root's.
#pragma once

#include <optional>

namespace eci::seccomp {

inline constexpr char kWorkerFlag[] = "--eci-seccomp-worker";

// Every binary that hosts a Supervisor calls this first thing in main(), before any thread or
// file is opened: when argv[1] is kWorkerFlag it runs the worker and returns its exit status;
// otherwise it returns nullopt and main() goes on.
std::optional<int> runWorkerIfRequested(int argc, char** argv);

}  // namespace eci::seccomp
