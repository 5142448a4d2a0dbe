"""A description of the machine and the software a result was measured with."""

import os
import platform
import time

import procs


def _first_line(argv, timeout=5, whole=False):
    """The first line a program prints (every line, joined with "; ", when whole)."""
    try:
        rc, out = procs.run_bounded(argv, timeout)
    except OSError as e:
        return f"unavailable ({e.strerror})"
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    if rc is None:
        return "unavailable (timed out)"
    if not lines:
        return f"unavailable (exit code {rc})"
    if rc != 0 and "version" not in lines[0].lower() and not lines[0].startswith("wrk "):
        return f"unavailable (exit code {rc}: {lines[0][:100]})"
    return "; ".join(lines) if whole else lines[0]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def is_virtual():
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " hypervisor" in line for line in f)
    except OSError:
        return False


def memory_total():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1048576:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown"


def versions(options, tool_versions=True):
    """(name, version line) of every program the run may use."""
    b = options.binaries
    found = [
        ("torus", _first_line([b["torus"], "--version"], whole=True) if os.access(b["torus"], os.X_OK)
         else f"unavailable ({b['torus']} not built)"),
        ("nginx", _first_line([b["nginx"], "-v"])),
        ("php-fpm", _first_line([b["php_fpm"], "-v"])),
        ("php", _first_line([b["php"], "-v"])),
    ]
    if options.tool == "wrk":
        wrk = _first_line([b["wrk"], "-v"])
        found.append(("wrk", wrk.split(" Copyright")[0]))
    else:
        found.append(("k6", _first_line([b["k6"], "version"])))
    if any(s.startswith("mariadb") for s in options.scenarios):
        found.append(("mariadb", _first_line([b["mariadbd"], "--version"])))
    if any(s.startswith("https") for s in options.scenarios):
        found.append(("openssl", _first_line([b["openssl"], "version"])))
    found.append(("python", platform.python_version()))
    return found


def describe(options):
    """(label, text) facts about this machine and run, in display order."""
    cpus = os.cpu_count() or 0
    allowed = sorted(os.sched_getaffinity(0))
    facts = [
        ("date", time.strftime("%Y-%m-%d %H:%M:%S %Z")),
        ("cpu", cpu_model() + (" (virtual machine)" if is_virtual() else "")),
        ("cores", f"{cpus} logical CPUs, usable: {','.join(map(str, allowed))}"),
        ("memory", memory_total()),
        ("kernel", f"{platform.system()} {platform.release()}"),
        ("load average", " ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1, 5, 15 min, at start)"),
    ]
    facts.extend(versions(options))
    return facts
