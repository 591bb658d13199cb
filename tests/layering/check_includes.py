"""Fails when an #include points the wrong way between thriftd's layers.

The layers, lowest first, and what each may include of thriftd's own code
(system and third-party headers are not checked):

  include/thriftd/  the public API: only itself
  src/base/         base: itself and the public API
  workers/          the worker layer: itself, base, the public API
  call/             `thriftd call`, a client: itself and base
  src/              the master: itself, call, workers, base, the public API

A worker must never reach into the master, the base layer into either, the
client (call/) into the master or the workers, and the public API into
anything private. Usage: check_includes.py SOURCE_ROOT.
"""

import re
import sys
import tempfile
from pathlib import Path

INCLUDE = re.compile(r'^\s*#\s*include\s+[<"]([^">]+)[">]', re.MULTILINE)

# layer -> the layers it may include
ALLOWED = {
    "public": {"public"},
    "base": {"base", "public"},
    "workers": {"workers", "base", "public"},
    "call": {"call", "base"},
    "master": {"master", "call", "workers", "base", "public"},
}


# Where each layer's files live, most specific first: an #include names a
# file by the same path, relative to the source root.
PREFIXES = (("include/thriftd/", "public"), ("thriftd/", "public"), ("src/base/", "base"),
            ("workers/", "workers"), ("call/", "call"), ("src/", "master"))


def layer_of(path):
    """The layer of a source file or of an #include'd name (both relative to
    the root), or None for a system or third-party header."""
    for prefix, layer in PREFIXES:
        if path.startswith(prefix):
            return layer
    return None


def violations(root):
    found = []
    for folder in ("include/thriftd", "src", "workers", "call"):
        for path in sorted((root / folder).rglob("*")):
            if path.suffix not in (".h", ".cc") or not path.is_file():
                continue
            relative = path.relative_to(root)
            layer = layer_of(relative.as_posix())
            allowed = ALLOWED[layer]
            text = path.read_text()
            for match in INCLUDE.finditer(text):
                target = layer_of(match.group(1))
                if target is not None and target not in allowed:
                    line = text.count("\n", 0, match.start()) + 1
                    found.append(f"{relative}:{line}: the {layer} layer includes "
                                 f"{match.group(1)} of the {target} layer")
    return found


def self_test():
    """The checker must catch each wrong direction, and pass the right ones."""
    cases = {
        "workers/w.cc": ('#include "src/config.h"', True),           # worker -> master
        "src/base/b.h": ('#include "workers/connection.h"', True),   # base -> workers
        "src/base/c.cc": ('#include "src/arbiter.h"', True),         # base -> master
        "include/thriftd/p.h": ('#include "src/base/log.h"', True),  # public -> private
        "src/m.cc": ('#include "workers/registry.h"', False),        # master -> workers
        "call/c.cc": ('#include "src/config.h"', True),              # call -> master
        "call/w.cc": ('#include "workers/connection.h"', True),      # call -> workers
        "call/ok.cc": ('#include "src/base/status.h"', False),       # call -> base
        "src/main.cc": ('#include "call/call_command.h"', False),    # master -> call
        "workers/ok.cc": ('#include "src/base/log.h"', False),       # workers -> base
        "src/base/ok.h": ("#include <thriftd/app.h>", False),         # base -> public
    }
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for name, (line, _) in cases.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(line + "\n")
        reported = {line.split(":")[0] for line in violations(root)}
    expected = {name for name, (_, wrong) in cases.items() if wrong}
    if reported != expected:
        print(f"self-test failed: reported {sorted(reported)}, expected {sorted(expected)}")
        return False
    return True


def main():
    if not self_test():
        return 2
    root = Path(sys.argv[1]).resolve()
    found = violations(root)
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} include(s) point the wrong way; see tests/layering/check_includes.py")
        return 1
    print("every include points down the layers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
