#!/usr/bin/env python3
"""Line coverage of blogd's product code from an lcov file: the lines of `#[cfg(test)]` items
inside src/ (the unit-test modules) are left out, since they run whenever the tests run and
would lift the number without covering anything of the product.

Usage: coverage-product.py LCOV_FILE FLOOR_PERCENT
Prints the product-only number (and, for comparison, the number with the test modules
counted), and exits 1 when the product-only number is below the floor.

Coverage tools cannot drop an inline module by file name, so the test items' line ranges are
found here in the source: from each `#[cfg(test)]` (or `#[cfg(all(test, …))]`) attribute to the
end of the item it is on, by matching braces with a small Rust lexer that skips strings, raw
strings, characters and comments (test code is full of "{…}" in strings).
"""
import os
import re
import sys

CFG_TEST = re.compile(r"^\s*#\[cfg\((test|all\(test\b.*)\)\]\s*$")


def code_only(text):
    """The source with comments, strings and char literals blanked (newlines kept), so that
    the braces left are the code's own."""
    out, i, n = [], 0, len(text)
    blank = lambda s: "".join("\n" if c == "\n" else " " for c in s)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(blank(text[i:j])); i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j): depth, j = depth + 1, j + 2
                elif text.startswith("*/", j): depth, j = depth - 1, j + 2
                else: j += 1
            out.append(blank(text[i:j])); i = j
        elif (m := re.match(r'(b|c)?r(#*)"', text[i:i + 300])) and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            close = '"' + m.group(2)
            j = text.find(close, i + m.end())
            j = n if j < 0 else j + len(close)
            out.append(blank(text[i:j])); i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(blank(text[i:j + 1])); i = j + 1
        elif c == "'":
            # A char literal ('x', '\n', '\u{7f}', '{') or a lifetime ('a, 'static).
            m = re.match(r"'(\\(u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'])'", text[i:i + 12])
            if m:
                out.append(blank(m.group(0))); i += m.end()
            else:
                out.append(c); i += 1
        else:
            out.append(c); i += 1
    return "".join(out)


def test_ranges(path):
    """1-based inclusive line ranges of the #[cfg(test)] items of one source file."""
    text = open(path, encoding="utf-8").read()
    code = code_only(text)
    lines = code.split("\n")
    starts = [k for k, line in enumerate(lines) if CFG_TEST.match(line)]
    ranges = []
    offsets = _line_offsets(code)
    for k in starts:
        i, depth = offsets[k] + len(lines[k]), 0
        while i < len(code):
            ch = code[i]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    break
            elif ch == ";" and depth == 0:  # `mod tests;`, `use …;`: the item ends here
                break
            i += 1
        end = code.count("\n", 0, i) + 1
        ranges.append((k + 1, end))
    return ranges


def _line_offsets(text):
    offs, pos = [], 0
    for line in text.split("\n"):
        offs.append(pos)
        pos += len(line) + 1
    return offs


def read_lcov(path):
    files, current = {}, None
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line.startswith("SF:"):
            current = files.setdefault(line[3:], {})
        elif line.startswith("DA:") and current is not None:
            num, count = line[3:].split(",")[:2]
            current[int(num)] = current.get(int(num), 0) + int(float(count))
        elif line == "end_of_record":
            current = None
    return files


def main():
    lcov, floor = sys.argv[1], float(sys.argv[2])
    files = read_lcov(lcov)
    root = os.getcwd()
    all_found = all_hit = found = hit = dropped = modules = 0
    per_file = []
    for name, das in sorted(files.items()):
        rel = os.path.relpath(name, root)
        if not rel.startswith("src" + os.sep):
            continue  # tests/, benches/ and dependencies are not the product
        ranges = test_ranges(name)
        modules += len(ranges)
        in_test = lambda ln: any(a <= ln <= b for a, b in ranges)
        f_found = f_hit = 0
        for ln, count in das.items():
            all_found += 1
            all_hit += count > 0
            if in_test(ln):
                dropped += 1
                continue
            f_found += 1
            f_hit += count > 0
        found += f_found
        hit += f_hit
        if f_found:
            per_file.append((f_hit / f_found, f_found - f_hit, rel))
    if not found:
        print(f"FAIL: no line of src/ in {lcov}: nothing was measured")
        sys.exit(1)
    percent = 100.0 * hit / found
    print("least covered files (product lines missed):")
    for ratio, missed, rel in sorted(per_file, key=lambda t: -t[1])[:10]:
        print(f"  {rel:<44} {100 * ratio:6.2f}%  {missed:5d} lines missed")
    print(f"with the test modules counted: {100.0 * all_hit / all_found:.2f}% of {all_found} lines")
    print(f"left out: {dropped} lines in {modules} #[cfg(test)] items")
    print(f"product line coverage: {percent:.2f}% ({hit} of {found} lines; floor {floor}%)")
    if percent < floor:
        print(f"FAIL: product line coverage {percent:.2f}% is below the floor of {floor}%")
        sys.exit(1)


main()
