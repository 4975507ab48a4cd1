// The seccomp half of eci-runc's spec rewrite: merges eci's rules into the OCI spec's
// `linux.seccomp` (Docker's default profile, or none at all under --privileged).
//
//  * The mount control path (mount, umount/umount2 and the new mount API) becomes
//    SCMP_ACT_NOTIFY, answered by the supervisor listening on `listenerPath` (runc 1.1.5 connects
//    to it and sends the notify fd with the container state, for init and every `runc exec`).
//    Only calls the engine's profile would have allowed are trapped: a call the profile refuses
//    stays refused, so eci never grants a mount the engine did not.
//  * Kernel-global calls (kKernelGlobalSyscalls) get a plain ERRNO(EPERM) rule, no round trip,
//    even when the engine sent no profile at all.
//  * Calls a filter cannot inspect (unfilterableSyscalls) get ERRNO(ENOSYS): programs fall back
//    to the calls the rules above do inspect.
// Data-path syscalls are never touched.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "eci/error.h"

namespace eci::seccomp {

// Control-path calls answered by the supervisor. `umount` is the i386 oldumount (no-op name on
// x86_64); `fspick` is trapped too although it is not a "mount" call by name: fspick +
// FSCONFIG_CMD_RECONFIGURE is a superblock remount that would otherwise skip every rule.
const std::vector<std::string>& notifySyscalls();

// chmod-family calls and the index of their mode argument: trapped only when the mode holds
// S_ISUID or S_ISGID (SCMP_CMP_MASKED_EQ rules), so a host path never gets a set-id file.
// Creating calls too (open, openat, creat, mknod, mknodat), on the mode alone; the rules let
// an open/openat that does not create (flagsArg holds neither O_CREAT nor O_TMPFILE) through.
struct SetIdCall {
  std::string name;
  unsigned modeArg;
  int flagsArg = -1;  // open/openat: the flags argument; -1: the call always creates (or chmods)
};
const std::vector<SetIdCall>& setIdCalls();

// Calls refused with EPERM for every container; the reason for each is in spec.cc.
const std::vector<std::string>& kernelGlobalSyscalls();

// Calls whose effect a seccomp filter cannot see, answered ENOSYS for every container so that
// programs take the older call the filter does see (glibc, Go and runc fall back from ENOSYS):
// openat2 (flags and mode in memory), fchmodat2 (a chmod the set-id split does not cover) and
// io_uring (its operations, an O_CREAT|04755 openat among them, never pass the filter).
const std::vector<std::string>& unfilterableSyscalls();

// Every syscall name libseccomp resolves on x86_64 or i386: the allow list of the profile eci
// makes when the engine sends none (--privileged). Anything newer gets ENOSYS.
const std::vector<std::string>& knownSyscalls();

struct MergeResult {
  bool notifyInstalled = false;    // false if the profile refuses all mount calls anyway
  std::vector<std::string> notes;  // what was changed, for eci-runc's log
};

// Merges eci's rules into spec["linux"]["seccomp"] in place. `listenerPath` must be absolute;
// `metadata` is passed back by runc as the state's "metadata" (eci uses the container id).
// On error the spec is unchanged.
Result<MergeResult> mergeSeccompIntoSpec(nlohmann::json& spec, const std::string& listenerPath,
                                         const std::string& metadata = {});

// eci-runc's entry point: reads modules/seccomp/listenerPath from eci-enforcerd's grant and merges
// (metadata = container id). ECI on and no seccomp module in the grant is an error: eci-runc
// must not start a container whose mount calls nobody vets (fail closed).
Status addSeccompFromGrant(nlohmann::json& spec, const std::string& containerId,
                           const nlohmann::json& grantModules);

}  // namespace eci::seccomp
