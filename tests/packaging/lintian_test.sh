#!/usr/bin/env bash
# lintian on eci's .deb: any error (E:) fails; warnings are printed. Each override the package
# ships (installers/debian/lintian-overrides -> /usr/share/lintian/overrides/eci) says why.
#   lintian_test.sh DEB|PACKAGES_DIR
set -u
deb=${1:?usage: lintian_test.sh DEB|PACKAGES_DIR}
[[ -d $deb ]] && deb=$(ls "$deb"/eci_*.deb 2>/dev/null | head -n1)
[[ -s $deb ]] || { echo "FAIL - no package"; exit 1; }
command -v lintian >/dev/null || { echo "SKIP: lintian not installed"; exit 77; }
out=$(lintian --tag-display-limit 0 --display-info "$deb" 2>&1)
echo "$out"
errors=$(grep -c '^E: ' <<<"$out")
warnings=$(grep -c '^W: ' <<<"$out")
echo "lintian: $errors errors, $warnings warnings"
((errors == 0))
