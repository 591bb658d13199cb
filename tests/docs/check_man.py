#!/usr/bin/python3
"""Fails when the man pages drift from the settings table.

The table is read from the real binary: `--print-config` lists every YAML key,
`--help` every command-line flag. Both directions are checked: every setting
is documented, and every documented key or flag exists.
"""
import re
import subprocess
import sys


def table(thriftd):
    keys = [line.split(":", 1)[0] for line in
            subprocess.run([thriftd, "--print-config"], check=True, capture_output=True,
                           text=True).stdout.splitlines()]
    help_text = subprocess.run([thriftd, "--help"], check=True, capture_output=True,
                               text=True).stdout
    flags = sorted(set(re.findall(r"--([a-z][a-z0-9-]+)", help_text)))
    return keys, flags


def main(thriftd, page1, page5):
    keys, flags = table(thriftd)
    text1 = open(page1).read()
    text5 = open(page5).read()
    errors = []
    documented_keys = set(re.findall(r"\(key: \\fB([a-z_]+)\\fR\)", text1))
    documented_flags = set(re.findall(r"\\-\\-([a-z][a-z0-9\\-]*)", text1.split(".SH SIGNALS")[0]))
    documented_flags = {flag.replace("\\-", "-") for flag in documented_flags}
    yaml_keys = set(re.findall(r"^\.TP\n\.B ([a-z_]+)$", text5, re.M))
    for key in keys:
        if key not in documented_keys:
            errors.append(f"{page1}: setting {key} is not documented (expected '(key: \\fB{key}\\fR)')")
        if key not in yaml_keys:
            errors.append(f"{page5}: key {key} is not documented")
    for flag in flags:
        if flag not in documented_flags:
            errors.append(f"{page1}: option --{flag} is not documented")
    for key in sorted(documented_keys - set(keys)):
        errors.append(f"{page1}: documents key {key}, which thriftd does not have")
    for key in sorted(yaml_keys - set(keys)):
        errors.append(f"{page5}: documents key {key}, which thriftd does not have")
    for flag in sorted(documented_flags - set(flags)):
        errors.append(f"{page1}: documents option --{flag}, which thriftd does not have")
    for error in errors:
        print(error)
    print(f"checked {len(keys)} keys and {len(flags)} options: {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
