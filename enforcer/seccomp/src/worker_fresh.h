// Inside the per-container seccomp worker: a new proc or sysfs for a nested pid or network
// namespace (rules.h Action::kFreshTree), e.g. the /proc and /sys of every container an inner
// dockerd or containerd starts (Docker-in-Docker).
//
// Why a fresh superblock and not a clone of the container's tree: a clone shows the container's
// own pid namespace (every process of the container) or network namespace to the nested one, and
// runtimes check that /proc is the procfs of their pid namespace. Why its masks come from the
// container's own /proc and /sys (the templates, opened when the worker starts, in the
// container's first mount namespace) and not from the caller's: the caller's tree may be a fresh
// tree whose masks the caller covered (rules.cc checkOvermount allows that there), and a clone of
// a cover would be an unprotected mount hiding an unmasked file. The templates are never covered:
// that exception does not reach them.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "eci/unique_fd.h"

namespace eci::seccomp::worker {

// One mount right below a template tree's root: where it goes below the new tree's root and a
// detached recursive clone of it (with everything mounted below it).
struct MaskClone {
  std::string rel;
  UniqueFd tree;
};

// Clones every mount right below `templateFd` (the root of the container's /proc or /sys),
// reading the mount table of the container's first mount namespace `initialMntns`, which the
// worker enters (the caller's is entered again afterwards by the caller of this). errno or 0.
int cloneTemplateMasks(int initialMntns, int templateFd, std::vector<MaskClone>* out);

// Makes the new proc (sysfs) as the container's root inside the caller's pid (net) namespace
// `nsFd`, attaches every mask on it while it is still detached, and only then attaches it on
// `target` in the worker's current mount namespace (the caller's). `msFlags` are mount(2)'s
// (MS_RDONLY, MS_NOSUID, ...), `options` freshTreeOptions()'s. errno or 0; on failure nothing is
// attached.
int freshTree(bool proc, int nsFd, int target, const std::vector<MaskClone>& masks,
              uint64_t msFlags, const std::vector<std::pair<std::string, std::string>>& options);

}  // namespace eci::seccomp::worker
