#include "eci/seccomp/spec.h"

#include <fcntl.h>
#include <seccomp.h>

#include <algorithm>
#include <cstdlib>
#include <set>

namespace eci::seccomp {

const std::vector<std::string>& notifySyscalls() {
  static const std::vector<std::string> k = {"mount",         "umount",  "umount2",    "fsopen",
                                             "fsconfig",      "fsmount", "move_mount", "open_tree",
                                             "mount_setattr", "fspick"};
  return k;
}

const std::vector<SetIdCall>& setIdCalls() {
  static const std::vector<SetIdCall> k = {{"chmod", 1},   {"fchmod", 1},    {"fchmodat", 2},
                                           {"open", 2, 1}, {"openat", 3, 2}, {"creat", 1},
                                           {"mknod", 1},   {"mknodat", 2}};
  return k;
}

const std::vector<std::string>& kernelGlobalSyscalls() {
  // Each of these reaches state the whole VM shares; none is namespaced. Refused by a plain errno
  // rule, so no round trip and no supervisor needed. Deliberately NOT here:
  //  - reboot: in a child pid namespace reboot(RESTART/POWER_OFF/HALT) only ends that namespace's
  //    init and every other command is EINVAL (kernel/reboot.c reboot_pid_ns); eci refuses
  //    --pid=host, so a container never runs in the host pid namespace.
  //  - adjtimex/clock_adjtime: modes=0 is how ntp_gettime() and friends *read* the clock state;
  //    changing it needs CAP_SYS_TIME in the initial user namespace, which a container never has.
  //  - unshare/setns/pivot_root/keyctl: namespaced; the product allows nested containers.
  static const std::vector<std::string> k = {
      "bpf",                // programs and maps live in the one kernel (ECI: bpftool must fail)
      "init_module",        // kernel modules: code in the shared kernel
      "finit_module",       //
      "delete_module",      //
      "kexec_load",         // replaces the running kernel
      "kexec_file_load",    //
      "open_by_handle_at",  // "shocker": file handles ignore the mount namespace and chroot
      "perf_event_open",    // system-wide PMU/tracepoints; side channels (Docker's default too)
      "swapon",             // swap is one global configuration
      "swapoff",            //
      "acct",               // process accounting writes one host file for every process
      "settimeofday",       // CLOCK_REALTIME is global (time namespaces only offset monotonic/boot)
      "clock_settime",      //
      "stime",              // i386
      "iopl",               // raw I/O port access to the VM's hardware
      "ioperm",             //
      "quotactl",           // quotas belong to the host filesystem's superblock
      "quotactl_fd",        //
      "syslog",             // the kernel ring buffer is global (dmesg read/clear)
      "lookup_dcookie",     // global profiling cookies
      "nfsservctl",         // the kernel NFS server
      "uselib",             // legacy a.out loader, kernel attack surface only
  };
  return k;
}

const std::vector<std::string>& unfilterableSyscalls() {
  // A seccomp filter sees only the six argument registers. Each call below carries what the
  // set-id and mount rules must check somewhere a filter cannot look, so allowing it would be an
  // unchecked way around them. ENOSYS, not EPERM: it is what a kernel without the call answers,
  // and every libc/runtime takes the older, filtered call then (Docker's default profile answered
  // openat2 ENOSYS for the same reason before it learned the call).
  //  - openat2: flags and mode live in struct open_how in memory, so O_CREAT with mode 04755
  //    cannot be told from a plain open; openat with the same effect is filtered (setIdCalls).
  //  - fchmodat2: a chmod whose mode the set-id split (chmod, fchmod, fchmodat) does not cover;
  //    glibc's fchmodat() uses it for AT_SYMLINK_NOFOLLOW and falls back. (libseccomp 2.5.4
  //    does not name it yet: runc then skips the rule and the profile's default refuses it.)
  //  - io_uring_*: a ring's operations (IORING_OP_OPENAT with O_CREAT|04755, OPENAT2, SETXATTR,
  //    ...) run in the kernel without passing any filter. Docker's own default profile refuses
  //    io_uring since 25.0 (Debian 12 ships 20.10).
  static const std::vector<std::string> k = {"openat2", "fchmodat2", "io_uring_setup",
                                             "io_uring_enter", "io_uring_register"};
  return k;
}

const std::vector<std::string>& knownSyscalls() {
  static const std::vector<std::string> k = [] {
    std::set<std::string> names;
    for (uint32_t arch : {uint32_t{SCMP_ARCH_X86_64}, uint32_t{SCMP_ARCH_X86}})
      for (int nr = 0; nr < 1024; ++nr)
        if (char* n = seccomp_syscall_resolve_num_arch(arch, nr)) {
          names.insert(n);
          free(n);  // NOLINT(cppcoreguidelines-no-malloc): libseccomp allocates with malloc
        }
    return std::vector<std::string>(names.begin(), names.end());
  }();
  return k;
}

namespace {

bool isAllowAction(const nlohmann::json& rule) {
  auto it = rule.find("action");
  return it != rule.end() && it->is_string() && *it == "SCMP_ACT_ALLOW";
}

bool hasArgs(const nlohmann::json& rule) {
  auto it = rule.find("args");
  return it != rule.end() && it->is_array() && !it->empty();
}

}  // namespace

Result<MergeResult> mergeSeccompIntoSpec(nlohmann::json& spec, const std::string& listenerPath,
                                         const std::string& metadata) {
  if (listenerPath.empty() || listenerPath.front() != '/')
    return Error(ErrorKind::kInvalidInput,
                 "seccomp listener path '" + listenerPath + "' is not absolute");
  if (!spec.is_object()) return Error(ErrorKind::kInvalidInput, "/: the spec is not a JSON object");
  MergeResult res;
  try {
    // Work on a copy of /linux/seccomp only (not of the whole spec, which eci-runc pays for at
    // every start): the spec is unchanged on error.
    const auto linux = spec.find("linux");
    if (linux != spec.end() && !linux->is_null() && !linux->is_object())
      return Error(ErrorKind::kInvalidInput, "/linux: not an object");
    nlohmann::json seccomp;
    if (linux != spec.end() && linux->is_object())
      if (auto it = linux->find("seccomp"); it != linux->end()) seccomp = *it;
    if (seccomp.is_null()) {
      // --privileged (or an engine without a profile): allow every call libseccomp can name but
      // eci's rules, and ENOSYS for the rest. Not allow-by-default: a call newer than libseccomp
      // (open_tree_attr, fchmodat2, ...) cannot be named in a rule, so it could be neither trapped
      // nor refused, and open_tree_attr(OPEN_TREE_CLONE|AT_RECURSIVE, attr_clr=RDONLY) would make
      // a clone of a read-only volume writable in one untrapped call. runc refuses calls above
      // the highest named one with ENOSYS as it does for Docker's default profile, and programs
      // fall back from ENOSYS as they do there. Allowed calls cost nothing more: the kernel
      // caches argument-free allow decisions per syscall number.
      seccomp = {{"defaultAction", "SCMP_ACT_ERRNO"},
                 {"defaultErrnoRet", ENOSYS},
                 {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
                 {"syscalls", {{{"names", knownSyscalls()}, {"action", "SCMP_ACT_ALLOW"}}}}};
      res.notes.push_back(
          "seccomp: no engine profile; created one allowing every call libseccomp knows");
    }
    if (!seccomp.is_object())
      return Error(ErrorKind::kInvalidInput, "/linux/seccomp: not an object");
    if (!seccomp.contains("defaultAction") || !seccomp["defaultAction"].is_string())
      return Error(ErrorKind::kInvalidInput,
                   "/linux/seccomp/defaultAction: missing or not a string");
    const std::string defaultAction = seccomp["defaultAction"];
    if (defaultAction == "SCMP_ACT_NOTIFY")
      return Error(ErrorKind::kInvalidInput,
                   "/linux/seccomp/defaultAction: SCMP_ACT_NOTIFY cannot be combined with eci");
    if (seccomp.contains("listenerPath") && !seccomp["listenerPath"].get<std::string>().empty())
      return Error(ErrorKind::kInvalidInput,
                   "/linux/seccomp/listenerPath: already set by the engine");
    nlohmann::json& syscalls = seccomp["syscalls"];
    if (syscalls.is_null()) syscalls = nlohmann::json::array();
    if (!syscalls.is_array())
      return Error(ErrorKind::kInvalidInput, "/linux/seccomp/syscalls: not an array");

    const auto& notify = notifySyscalls();
    const auto& global = kernelGlobalSyscalls();
    std::set<std::string> allowedBefore;  // names an unconditional ALLOW rule granted
    std::set<std::string> mentioned;      // names any rule mentions
    for (size_t i = 0; i < syscalls.size(); ++i) {
      auto& rule = syscalls[i];
      if (!rule.is_object() || !rule.contains("names") || !rule["names"].is_array())
        return Error(ErrorKind::kInvalidInput,
                     "/linux/seccomp/syscalls/" + std::to_string(i) + ": no names array");
      if (rule.value("action", "") == "SCMP_ACT_NOTIFY")
        return Error(ErrorKind::kInvalidInput,
                     "/linux/seccomp/syscalls/" + std::to_string(i) +
                         ": the engine's profile already uses SCMP_ACT_NOTIFY");
      for (const auto& n : rule["names"]) {
        if (!n.is_string())
          return Error(ErrorKind::kInvalidInput,
                       "/linux/seccomp/syscalls/" + std::to_string(i) + "/names: not a string");
        mentioned.insert(n.get<std::string>());
        if (isAllowAction(rule) && !hasArgs(rule)) allowedBefore.insert(n.get<std::string>());
      }
    }
    // A call is trapped only if the engine let it through: unconditionally allowed by a rule, or
    // not mentioned at all under an allow-by-default profile.
    std::vector<std::string> trap;
    for (const auto& n : notify) {
      const bool allowed =
          allowedBefore.count(n) || (!mentioned.count(n) && defaultAction == "SCMP_ACT_ALLOW");
      if (allowed) trap.push_back(n);
    }
    const auto& unfilterable = unfilterableSyscalls();
    std::set<std::string> strip(trap.begin(), trap.end());
    strip.insert(global.begin(), global.end());
    strip.insert(unfilterable.begin(), unfilterable.end());
    // chmod family: only a mode with S_ISUID or S_ISGID reaches the supervisor (it refuses them
    // on host paths: nothing set-id planted for the host's users); every other chmod stays a
    // plain allowed call, decided in the kernel by the argument filter (no round trip). Only
    // calls the engine allowed unconditionally are split this way.
    std::vector<nlohmann::json> setIdRules;
    for (const auto& call : setIdCalls()) {
      const std::string& name = call.name;
      if (!allowedBefore.count(name) &&
          (mentioned.count(name) || defaultAction != "SCMP_ACT_ALLOW"))
        continue;
      strip.insert(name);
      auto cond = [](unsigned index, unsigned mask, unsigned value) {
        return nlohmann::json{
            {"index", index}, {"value", mask}, {"valueTwo", value}, {"op", "SCMP_CMP_MASKED_EQ"}};
      };
      auto rule = [&](const char* action, nlohmann::json args) {
        setIdRules.push_back({{"names", {name}}, {"action", action}, {"args", std::move(args)}});
      };
      // The ALLOW and NOTIFY rules of one call are disjoint (a set-id bit is clear or set):
      // libseccomp then needs no order between them. open/openat are filtered on the mode alone,
      // not also on O_CREAT/O_TMPFILE: the data path passes mode 0 (glibc, musl and Go do when
      // not creating) and stays a plain allow in the kernel; the rare open that carries set-id
      // bits without creating is trapped and let through by the rules (rules.cc). Two-argument
      // rules would cost every container start ~2 ms more in runc's libseccomp compile.
      rule("SCMP_ACT_ALLOW", {cond(call.modeArg, 06000, 0)});
      for (unsigned bit : {04000U, 02000U}) rule("SCMP_ACT_NOTIFY", {cond(call.modeArg, bit, bit)});
    }
    // libseccomp refuses two unconditional rules for one call, and an ALLOW rule would also be a
    // second path around the new ones: take eci's names out of every existing rule.
    nlohmann::json kept = nlohmann::json::array();
    for (auto& rule : syscalls) {
      nlohmann::json names = nlohmann::json::array();
      for (const auto& n : rule["names"])
        if (!strip.count(n.get<std::string>())) names.push_back(n);
      if (names.empty()) continue;
      rule["names"] = names;
      kept.push_back(rule);
    }
    // An ERRNO rule for a trapped call would win over NOTIFY (the kernel picks the most
    // restrictive action), so the two lists must not overlap; they are disjoint by construction.
    kept.push_back({{"names", global}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}});
    kept.push_back({{"names", unfilterable}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", ENOSYS}});
    for (auto& r : setIdRules) kept.push_back(std::move(r));
    if (!trap.empty() || !setIdRules.empty()) {
      if (!trap.empty()) kept.push_back({{"names", trap}, {"action", "SCMP_ACT_NOTIFY"}});
      seccomp["listenerPath"] = listenerPath;
      if (!metadata.empty()) seccomp["listenerMetadata"] = metadata;
      res.notifyInstalled = true;
      res.notes.push_back("seccomp: mount calls vetted by " + listenerPath);
    } else {
      res.notes.push_back("seccomp: the engine's profile refuses mount calls; nothing to vet");
    }
    res.notes.push_back("seccomp: kernel-global calls refused with EPERM");
    res.notes.push_back("seccomp: openat2, fchmodat2 and io_uring answered ENOSYS");
    syscalls = std::move(kept);
    spec["linux"]["seccomp"] = std::move(seccomp);
  } catch (const nlohmann::json::exception& e) {
    return Error(ErrorKind::kInvalidInput, std::string("/linux/seccomp: ") + e.what());
  }
  return res;
}

Status addSeccompFromGrant(nlohmann::json& spec, const std::string& containerId,
                           const nlohmann::json& grantModules) {
  if (!grantModules.is_object() || !grantModules.contains("seccomp"))
    return Error(ErrorKind::kProtocol,
                 "eci-enforcerd's grant has no /modules/seccomp (is the seccomp supervisor "
                 "module running?)");
  const auto& m = grantModules["seccomp"];
  if (!m.is_object() || !m.contains("listenerPath") || !m["listenerPath"].is_string())
    return Error(ErrorKind::kProtocol,
                 "eci-enforcerd's grant: /modules/seccomp/listenerPath: expected a string");
  auto r = mergeSeccompIntoSpec(spec, m["listenerPath"].get<std::string>(), containerId);
  if (!r.ok()) return std::move(r).error();
  return {};
}

}  // namespace eci::seccomp
