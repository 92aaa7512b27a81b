#!/usr/bin/env python3
"""The per-kernel report of a stock-kernel VM run (tests/vm/run-vm-tests.sh).

Reads the VM's result channel (the second serial port: lines "WGBPF-VM-...", the end-to-end suite's
console output and its JUnit XML, see tests/vm/init.sh) and prints: the kernel, the modules loaded,
the flavour each wgbpf module used, the WireGuard implementation, the lab probe and each test's
result. Exit: 0 passed, 1 failed, 4 nothing ran that could pass (every test skipped).
"""
import argparse
import json
import sys
import xml.etree.ElementTree as ET

P = "WGBPF-VM-"


def kv(text):
    """'a=1 b=[x y] c=z' -> dict."""
    out, i = {}, 0
    while i < len(text):
        while i < len(text) and text[i] == " ":
            i += 1
        eq = text.find("=", i)
        if eq < 0:
            break
        key = text[i:eq]
        j = eq + 1
        if j < len(text) and text[j] == "[":
            end = text.find("]", j)
            end = len(text) if end < 0 else end
            out[key] = text[j + 1:end]
            i = end + 1
        else:
            end = text.find(" ", j)
            end = len(text) if end < 0 else end
            out[key] = text[j:end]
            i = end
    return out


def parse(path):
    r = {"e2e_out": [], "junit": [], "probe_log": [], "lab_log": [], "lab_up": [], "lab_routes": [], "lab_ping": [],
         "dmesg": [], "unit_log": [], "run": []}
    section = None
    with open(path, "rb") as f:
        data = f.read().decode("utf-8", "replace")
    for raw in data.split("\n"):
        line = raw.rstrip("\r")
        if section == "junit":
            if line.startswith(P + "JUNIT-END"):
                section = None
            else:
                r["junit"].append(line)
            continue
        if not line.startswith(P):
            if section == "e2e":
                r["e2e_out"].append(line)
            continue
        tag, _, rest = line[len(P):].partition(" ")
        if tag == "BOOTED":
            r["booted"] = kv(rest)
        elif tag == "MODULES":
            r["modules"] = kv(rest)
        elif tag == "BTF":
            r["btf"] = rest.split()
        elif tag == "START":
            r["start"] = kv(rest)
        elif tag == "PROBE":
            r["probe"] = kv(rest)
        elif tag == "PROBE-SUMMARY":
            r["probe_summary"] = rest
        elif tag == "PROBE-LOG":
            r["probe_log"].append(rest)
        elif tag == "E2E-BEGIN":
            section = "e2e"
            r["e2e_begin"] = kv(rest)
        elif tag == "E2E-END":
            section = None
            r["e2e_end"] = kv(rest)
        elif tag == "JUNIT-BEGIN":
            section = "junit"
        elif tag == "LAB-BEGIN":
            r["lab_begin"] = kv(rest)
        elif tag == "LAB-WG":
            r["lab_wg"] = kv(rest)
        elif tag == "LAB-ROUTES":
            r["lab_counts"] = kv(rest)
        elif tag == "LAB-SUMMARY":
            r["lab_summary"] = rest
        elif tag == "LAB-LOG":
            r["lab_log"].append(rest)
        elif tag == "LAB-PING":
            r["lab_ping"].append(rest)
        elif tag == "LAB-UP":
            r["lab_up"].append(rest)
        elif tag == "LAB-ROUTE":
            r["lab_routes"].append(rest)
        elif tag == "LAB-END":
            r["lab_end"] = kv(rest)
        elif tag == "UNIT-LOG":
            r["unit_log"].append(rest)
        elif tag == "RUN":
            r["run"].append(rest)
        elif tag == "DMESG":
            r["dmesg"].append(rest)
        elif tag == "END":
            r["end"] = kv(rest)
    return r


def summary_modules(text):
    if not text:
        return None
    try:
        j = json.loads(text)
    except ValueError:
        return None
    return j.get("modules", []) if isinstance(j, dict) else None


def junit_cases(lines):
    text = "\n".join(lines).strip()
    if not text:
        return None
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None
    cases = []
    for tc in root.iter("testcase"):
        name = tc.get("name", "?")
        secs = tc.get("time", "")
        failure = tc.find("failure")
        error = tc.find("error")
        skipped = tc.find("skipped")
        if failure is not None or error is not None:
            node = failure if failure is not None else error
            detail = (node.get("message") or "") + "\n" + (node.text or "")
            cases.append((name, "failed", secs, detail.strip()))
        elif skipped is not None:
            body = [l.strip() for l in (skipped.text or "").splitlines() if l.strip()]
            reason = " ".join(l for l in body if l != "SKIPPED" and not l.startswith("at "))
            cases.append((name, "skipped", secs, reason or skipped.get("message", "")))
        else:
            cases.append((name, "passed", secs, ""))
    return cases


def tail(path, n):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []
    return lines[-n:]


OUTCOMES = {
    "done": "ran to the end marker",
    "boot-crash": "BOOT FAILED: the kernel crashed before the start marker on every try (TCG flakiness?)",
    "boot-timeout": "BOOT FAILED: no start marker on any try",
    "run-crash": "the kernel crashed during the run (after the start marker) on every try",
    "hung": "the VM hung: no end marker within the time limit",
    "stopped": "the VM stopped without an end marker",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--package", default="")
    ap.add_argument("--outcome", required=True)
    ap.add_argument("--seconds", default="?")
    ap.add_argument("--console", default="")
    ap.add_argument("--expect-route", default="")
    ap.add_argument("--expect-wg", default="")
    ap.add_argument("--no-lab-probe", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--run", action="store_true", help="a --run command instead of the tests")
    a = ap.parse_args()

    r = parse(a.results)
    if a.run:
        print(f"== linux {a.kernel}: --run, {OUTCOMES.get(a.outcome, a.outcome)} ==")
        for l in r["run"]:
            print(l)
        rc = r.get("end", {}).get("run")
        print(f"== exit {rc} ==")
        return 0 if a.outcome == "done" and rc == "0" else 1
    problems = []
    print(f"== linux {a.kernel} ({a.package}): {a.seconds} s ==")
    print(f"  VM: {OUTCOMES.get(a.outcome, a.outcome)}")
    if "start" in r and "e2e_end" in r:
        try:
            boot = float(r["start"].get("uptime", "0"))
            e2e = float(r["e2e_end"]["uptime"]) - float(r["e2e_begin"]["uptime"])
            print(f"  times (VM uptime): start marker at {boot:.0f} s, end-to-end suite {e2e:.0f} s")
        except (KeyError, ValueError):
            pass
    if a.outcome != "done":
        problems.append(OUTCOMES.get(a.outcome, a.outcome))

    if "modules" in r:
        m = r["modules"]
        print(f"  modules loaded: {m.get('loaded') or '-'}" + (f"; FAILED: {m['failed']}" if m.get("failed") else ""))
        if m.get("failed"):
            problems.append("modules failed to load: " + m["failed"])
    if "btf" in r:
        print(f"  /sys/kernel/btf: {' '.join(r['btf'])}")

    # Flavours: the lab probe's summary (real traffic) if there, else the VM-namespace probe's.
    mods = summary_modules(r.get("lab_summary")) or summary_modules(r.get("probe_summary"))
    probe_mods = summary_modules(r.get("probe_summary"))
    if "probe" in r and r["probe"].get("rc") != "0":
        problems.append(f"wgbpf watch (flavour probe) exited {r['probe'].get('rc')}")
        for l in r["probe_log"][-10:]:
            print(f"    | {l}")
    route_flavour = None
    if mods is not None:
        print("  flavours:")
        for mod in mods:
            print(f"    {mod.get('name')}: {mod.get('flavour')} (events {mod.get('events')}, lost {mod.get('lost')})")
            for n in mod.get("notes", []) or []:
                print(f"      note: {n}")
            if mod.get("name") == "route":
                route_flavour = mod.get("flavour", "")
    elif "start" in r:
        print("  flavours: no summary line from wgbpf watch")
        problems.append("no summary line from wgbpf watch")
    if probe_mods is not None and mods is not probe_mods:
        for mod in probe_mods:
            if mod.get("name") == "route" and route_flavour is not None and mod.get("flavour") != route_flavour:
                print(f"    (in the VM's own namespace: route: {mod.get('flavour')})")
    if a.expect_route and "start" in r:
        if route_flavour is None or a.expect_route not in route_flavour:
            problems.append(f"route flavour is '{route_flavour}', expected '{a.expect_route}'")

    if not a.no_lab_probe and "start" in r:
        impl = r.get("lab_wg", {}).get("impl", "unknown")
        print(f"  WireGuard (lab): {impl}")
        if a.expect_wg and impl != a.expect_wg:
            problems.append(f"the lab ran WireGuard '{impl}', expected '{a.expect_wg}'")
        lab_rc = r.get("lab_end", {}).get("rc", "missing")
        c = r.get("lab_counts")
        if c:
            print(f"  lab probe: {c.get('total')} route decisions on the client's wg0, {c.get('exact')} exact; "
                  f"ping {'ok' if c.get('ping_rc') == '0' else 'not sent' if c.get('ready') == 'no' else 'FAILED'}; "
                  f"wgbpf watch exit {lab_rc}")
            if c.get("ready") == "no":
                problems.append("lab probe: wgbpf watch never said it was attached (no ready line within 60 s); "
                                "no ping was sent")
            elif c.get("ping_rc") != "0":
                problems.append("lab probe: ping through the tunnel failed")
                for l in r["lab_ping"]:
                    print(f"    | {l}")
            if c.get("total") in (None, "0"):
                problems.append("lab probe: no route decisions")
            if a.expect_route and "exact" in a.expect_route and c.get("exact") in (None, "0"):
                problems.append("lab probe: no exact route decision although the flavour should be exact")
        if lab_rc != "0":
            problems.append(f"lab probe failed ({lab_rc})")
            for l in (r["lab_up"] + r["lab_log"])[-15:]:
                print(f"    | {l}")
        elif a.verbose:
            for l in r["lab_routes"][:6]:
                print(f"    route: {l}")

    e2e_rc = r.get("e2e_end", {}).get("rc")
    cases = junit_cases(r["junit"])
    status = "pass"
    if "start" in r:
        print(f"  end-to-end tests (wgbpf_e2e_tests exit {e2e_rc if e2e_rc is not None else 'missing'}):")
        if cases is None:
            print("    no JUnit report")
            if a.outcome == "done":
                problems.append("the end-to-end suite left no JUnit report")
        else:
            for name, res, secs, detail in cases:
                t = f" ({float(secs):.1f} s)" if secs else ""
                line = f"    {res:8} {name}{t}"
                if res == "skipped" and detail:
                    line += f": {detail}"
                print(line)
                if res == "failed":
                    for l in detail.splitlines()[:25]:
                        print(f"             | {l}")
            if any(c[1] == "failed" for c in cases):
                problems.append("end-to-end tests failed")
            elif cases and all(c[1] == "skipped" for c in cases) and not problems:
                status = "skip"
        if e2e_rc not in ("0", "4") and not any("tests failed" in p for p in problems) and a.outcome == "done":
            problems.append(f"end-to-end suite exited {e2e_rc}" + (" (timeout)" if e2e_rc == "124" else ""))
        unit = r.get("end", {}).get("unit", "skipped")
        if unit != "skipped":
            print(f"  unit tests: exit {unit}")
            for l in r["unit_log"]:
                print(f"    | {l}")
            if unit != "0":
                problems.append(f"unit tests exited {unit}")

    if r["dmesg"]:
        print("  kernel messages during the run (warnings/oopses):")
        for l in r["dmesg"][:20]:
            print(f"    | {l}")

    if problems and status != "skip":
        status = "fail"
    if status == "fail" or a.verbose:
        if r["e2e_out"]:
            print("  --- end-to-end suite output ---")
            for l in r["e2e_out"]:
                print(f"  | {l}")
        if a.outcome != "done" and a.console:
            print("  --- console (last lines) ---")
            for l in tail(a.console, 40):
                print(f"  | {l}")
            print("  --- result channel (last lines) ---")
            for l in tail(a.results, 20):
                print(f"  | {l}")
    for p in problems:
        print(f"  PROBLEM: {p}")
    print(f"  result: {status.upper()}")
    return {"pass": 0, "fail": 1, "skip": 4}[status]


if __name__ == "__main__":
    sys.exit(main())
