//! Stage 1: the Lark-compatible EBNF front end (pest). Owned by the front-end work; see lower/.
