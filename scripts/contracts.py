#!/usr/bin/env python3
"""Words once: function contracts and comment hygiene of the tree (STYLE.md); TAP lines.

  contract-once   a function defined in C has its contract at the definition only: a comment
                  directly above or after its declaration in a header is a second copy (a header keeps
                  the module comment and section comments set off by a blank line; a declaration
                  keeps a comment only without one C definition in its program, e.g. asm entry
                  points, or main, which every user program defines)
  contract-def    every function definition of kernel/, arch/ and lib/ has a contract comment
                  directly above it
  no-history      comments describe the code as it is, not how it came to be ("issue 4",
                  "later issues", "no longer", "formerly", "used to", "now")
  line-length     lines of C, asm and headers are at most 100 columns

usage: scripts/contracts.py [-v] [repository root]   (exit status 0 unless a check fails)
"""
import os
import re
import sys

SOURCE_DIRS = ["kernel", "arch", "include", "lib", "user", "tests/host"]
CONTRACT_DIRS = ("kernel/", "arch/", "lib/")
MAX_COLUMNS = 100
HISTORY = re.compile(r"\bissues? \d+|\blater issues?\b|\bcomes? later\b|\bno longer\b|"
                     r"\bformerly\b|\bused to\b|\bnow\b", re.IGNORECASE)
NAME = re.compile(r"(\w+)\s*\(")


def sources(root):
    """Paths (relative to root) of the C, asm and header files the checks read."""
    out = []
    for top in SOURCE_DIRS:
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in files:
                if f.endswith((".c", ".h", ".S")):
                    out.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(out)


def comments(lines, asm):
    """(line number, text) of every comment line (block, // and, in asm, #-comments)."""
    out, inside = [], False
    for n, line in enumerate(lines, 1):
        text, i = "", 0
        while i < len(line):
            if inside:
                end = line.find("*/", i)
                text += line[i:] if end < 0 else line[i:end]
                if end < 0:
                    break
                inside, i = False, end + 2
                continue
            m = re.compile(r'"(?:\\.|[^"\\])*"|/\*|//').search(line, i)
            if not m:
                break
            if m.group(0) == "/*":
                inside, i = True, m.end()
            elif m.group(0) == "//":
                text += line[m.end():]
                break
            else:
                i = m.end()
        if asm and not inside and re.match(r"\s*#\s", line) and \
                not re.match(r"\s*#\s*(include|define|if|ifdef|ifndef|else|endif|undef)\b", line):
            text += line
        if text.strip():
            out.append((n, text))
    return out


def strip_code(line):
    """The line without comments and string literals (for brace counting)."""
    line = re.sub(r'"(?:\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(?:\\.|[^'\\])'", "''", line)
    line = re.sub(r"/\*.*?\*/", "", line)
    return line.split("//")[0]


def comment_above(lines, i):
    """Text of the comment ending on the line just above index i, or None."""
    j = i - 1
    if j < 0:
        return None
    if lines[j].rstrip().endswith("*/"):
        k = j
        while k >= 0 and "/*" not in lines[k]:
            k -= 1
        if k < 0 or not lines[k].lstrip().startswith("/*"):
            return None
        return " ".join(l.strip() for l in lines[k:j + 1])
    if lines[j].lstrip().startswith("//"):
        return lines[j].strip()
    return None


def trailing_comment(line):
    """The comment after the code of a line, or None."""
    m = re.search(r"[;)]\s*(/\*.*\*/|//.*)$", line)
    return m.group(1) if m else None


def functions(lines):
    """(kind, name, line index, comment) for each top-level declaration ('decl') and
    definition ('def') of a function; a definition's body opens on its own line."""
    out, depth, inside, i = [], 0, False, 0
    while i < len(lines):
        line = lines[i]
        code = strip_code(line)
        if inside:
            if "*/" in line:
                inside = False
                code = strip_code(line[line.find("*/") + 2:])
            else:
                i += 1
                continue
        if "/*" in code:
            inside = True
            code = code[:code.find("/*")]
        if depth == 0 and re.match(r"[A-Za-z_]", line) and not \
                re.match(r"(typedef|struct\s+\w+\s*\{|union|enum|extern\s+\"C\")\b", line):
            start, stmt = i, code
            while not re.search(r"[;{}]\s*$|^\{", stmt.strip()) and i + 1 < len(lines) \
                    and not lines[i + 1].startswith("{"):
                i += 1
                stmt += " " + strip_code(lines[i])
            head = stmt.split("=")[0]
            m = NAME.search(head)
            body = i + 1 < len(lines) and lines[i + 1].startswith("{") and \
                stmt.rstrip().endswith(")")
            if m and "(*" not in head[:m.end()] and head[:m.start()].strip():
                kind = "def" if body else ("decl" if stmt.rstrip().endswith(";") else None)
                if kind and not head.lstrip().startswith("static_assert"):
                    above = start
                    if kind == "def" and out and out[-1][:3] == ("decl", m.group(1), start - 1):
                        above = start - 1       # a prototype just above its definition
                    comment = comment_above(lines, above)
                    if kind == "decl" and comment is None:
                        comment = trailing_comment(lines[i])
                    out.append((kind, m.group(1), start, comment))
            code = stmt
        depth += code.count("{") - code.count("}")
        depth = max(depth, 0)
        i += 1
    return out


def scope(path):
    """The program a file belongs to: user space, the host tests, or the kernel."""
    return "user" if path.startswith("user/") else \
        "host" if path.startswith("tests/host/") else "kernel"


def main(argv):
    verbose = "-v" in argv
    argv = [a for a in argv if a != "-v"]
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    files = sources(root)
    text = {p: open(os.path.join(root, p), encoding="utf-8").read().split("\n") for p in files}
    defs, decls = {}, {}
    for p in files:
        if p.endswith(".S"):
            continue
        for kind, name, n, comment in functions(text[p]):
            if kind == "def":
                defs.setdefault(name, []).append((p, n, comment))
            elif p.endswith(".h") and comment:
                decls.setdefault(name, []).append((p, n, comment))

    twice = [(p, n, name) for name, ds in decls.items() for p, n, _ in ds
             if len([d for d in defs.get(name, []) if scope(d[0]) == scope(p)]) == 1]
    bare = [(p, n, name) for name, ds in defs.items() for p, n, c in ds
            if c is None and p.startswith(CONTRACT_DIRS)]
    history = [(p, n, c.strip()) for p in files for n, c in comments(text[p], p.endswith(".S"))
               if HISTORY.search(c)]
    long = [(p, n, len(l)) for p in files for n, l in enumerate(text[p], 1)
            if len(l.expandtabs()) > MAX_COLUMNS]

    checks = [
        ("contract-once: function contracts written only at the definition", twice,
         lambda f: "%s:%d: %s has a contract in the header and at its definition" %
         (f[0], f[1] + 1, f[2])),
        ("contract-def: every definition has a contract comment above it", bare,
         lambda f: "%s:%d: %s has no contract comment" % (f[0], f[1] + 1, f[2])),
        ("no-history: comments describe the code, not its history", history,
         lambda f: "%s:%d: %s" % f),
        ("line-length: lines at most %d columns" % MAX_COLUMNS, long,
         lambda f: "%s:%d: %d columns" % f),
    ]
    print("1..%d" % len(checks))
    failed = 0
    for k, (title, found, say) in enumerate(checks, 1):
        for f in sorted(found)[: None if verbose else 20]:
            print("# " + say(f))
        if len(found) > 20 and not verbose:
            print("# ... %d more (-v lists all)" % (len(found) - 20))
        print("%s %d - %s (%d found)" % ("not ok" if found else "ok", k, title, len(found)))
        failed += bool(found)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
