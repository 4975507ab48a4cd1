#!/usr/bin/env python3
"""Prints docs/design/apiproxy-rules.md's route and command tables from src/rules/routes.cc
(the code's one table is the source of truth; run this after changing it and paste the output)."""
import re
import sys
from pathlib import Path

src = Path(__file__).resolve().parent.parent / "src/rules/routes.cc"
text = src.read_text()
routes = re.findall(r'\{"([A-Z*]+)",\s*"([^"]+)",\s*"([^"]+)",\s*K::(\w+)\}', text)
kinds = {
    "kPlain": "", "kPing": "always allowed", "kVersion": "always allowed",
    "kContainerCreate": "body: socket mounts, runtime", "kContainerStart": "legacy body refused; socket re-check",
    "kContainerRestart": "socket re-check", "kImagesCreate": "`fromImage` → pull, else import",
    "kBuild": "networkmode host/container: refused", "kVolumeCreate": "body: local driver options",
    "kServiceWrite": "body: socket mounts refused; never on container sockets",
    "kPluginWrite": "refused while ECI is on",
    "kContainerSocketRefused": "never on container sockets",
}
print("| Method | Route (also with /v1.NN prefix) | Command | Rule |")
print("|---|---|---|---|")
for m, p, c, k in routes:
    print(f"| {m} | `{p}` | {c} | {kinds[k]} |")
print()
table = text[text.index("const std::vector<CliCommand>& cliTable()"):]
table = table[:table.index("return kTable;")]
print("| CLI command | Blocks (deny list) | Also permits (allow list) |")
print("|---|---|---|")
for name, core, needs in re.findall(r'\{"([^"]+)",\s*\{([^}]*)\},\s*\{([^}]*)\}\}', table):
    fmt = lambda s: ", ".join(x.strip().strip('"') for x in s.split(",") if x.strip()) or "—"
    print(f"| `{name}` | {fmt(core)} | {fmt(needs)} |")
