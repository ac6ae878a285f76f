#!/bin/bash
# Compare syncodec's per-file verdicts with Lark's on the same files.
#
#   tools/lark-compat/compare.sh GRAMMAR START NEWLINE_TERMINAL LEXER FILE_LIST
#
# GRAMMAR: a .lark file; START: its start rule; NEWLINE_TERMINAL: the indenter's newline terminal
# (`_NEWLINE` for Lark's python.lark, `_NL` for SynCode's), or `-` for no indenter; LEXER: `basic`
# or `contextual` (Lark's lexer; syncodec's is always basic); FILE_LIST: one path per line.
# Needs `cargo build --release -p syncodec`, and Lark (see lark_verdicts.py).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
grammar=$1 start=$2 nl=$3 lexer=$4 list=$5
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
nl_arg=(); [ "$nl" != - ] && nl_arg=(--nl "$nl")
python3 "$here/lark_verdicts.py" "$grammar" --start "$start" "${nl_arg[@]}" --lexer "$lexer" < "$list" > "$work/lark.txt"
xargs -d '\n' "$root/target/release/syncodec" parse "$grammar" --start "$start" --prefer-shift --lr lalr ${SYNCODEC_ARGS:-} < "$list" > "$work/ours.txt" 2>/dev/null || true
python3 - "$work/lark.txt" "$work/ours.txt" <<'PY'
import sys
lark = {}
for line in open(sys.argv[1]):
    verdict, path = line.split(' ', 2)[:2]
    lark[path.strip()] = verdict
ours_fail = {}
for line in open(sys.argv[2]):
    if line.startswith('FAIL '):
        ours_fail[line[5:].split(':')[0]] = line.strip()
both_ok = sum(1 for f, v in lark.items() if v == 'OK' and f not in ours_fail)
both_fail = sum(1 for f, v in lark.items() if v == 'FAIL' and f in ours_fail)
lark_only = [f for f, v in lark.items() if v == 'OK' and f in ours_fail]
ours_only = [f for f, v in lark.items() if v == 'FAIL' and f not in ours_fail]
print(f"{len(lark)} files: both accept {both_ok}, both reject {both_fail}, "
      f"only Lark accepts {len(lark_only)}, only syncodec accepts {len(ours_only)}")
for f in lark_only[:10]:
    print('  only Lark accepts:', ours_fail[f][:200])
for f in ours_only[:10]:
    print('  only syncodec accepts:', f)
PY
