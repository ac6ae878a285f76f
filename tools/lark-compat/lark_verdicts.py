"""Parse files with Lark itself (LALR) and print one verdict per file: `OK path` or `FAIL path ...`.

Lark is not a dependency of syncodec: point LARK_SRC at an unpacked Lark source distribution
(`pip download --no-deps --no-binary :all: lark`, then untar), or have `lark` installed.
Files come as arguments or one per line on stdin. See docs/grammars.md (Lark compatibility).
"""
import os
import sys
import argparse
if os.environ.get('LARK_SRC'):
    sys.path.insert(0, os.environ['LARK_SRC'])
from lark import Lark
from lark.indenter import Indenter

ap = argparse.ArgumentParser()
ap.add_argument('grammar'); ap.add_argument('--start', default='start'); ap.add_argument('--nl', default=None)
ap.add_argument('--lexer', default='basic'); ap.add_argument('files', nargs='*')
a, rest = ap.parse_known_args(); a.files = a.files + rest
post = None
if a.nl:
    class Ind(Indenter):
        NL_type = a.nl
        OPEN_PAREN_types = ['LPAR', 'LSQB', 'LBRACE']
        CLOSE_PAREN_types = ['RPAR', 'RSQB', 'RBRACE']
        INDENT_type = '_INDENT'
        DEDENT_type = '_DEDENT'
        tab_len = 8
    post = Ind()
p = Lark(open(a.grammar).read(), parser='lalr', lexer=a.lexer, postlex=post, start=a.start)
files = a.files or [l.strip() for l in sys.stdin if l.strip()]
for f in files:
    try:
        text = open(f, encoding='utf-8').read()
        if a.nl and not text.endswith('\n'):
            text += '\n'
        p.parse(text)
        print('OK', f, flush=True)
    except Exception as e:
        print('FAIL', f, type(e).__name__, str(e).splitlines()[0][:100] if str(e) else '', flush=True)
