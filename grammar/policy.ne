# The Gavel policy language.
#
# This file is the reference grammar: docs/language.md quotes its EBNF comments. The
# parser is fed one policy at a time (the text up to and including its `;`), already
# lexed by src/language/parse/lexer.ts, so every action here is a one-line call into the
# typed builder in src/language/parse/build.ts.
#
# The nearley rules below a comment may be shaped differently from its EBNF, to the same
# language: nearley tries every alternative of a rule at every token, so rules are
# written with few alternatives, common prefixes shared, and no empty alternatives in
# expressions. `%word`, `%wordOrString`, `%literal` and `%prefix` are token classes
# (src/language/parse/symbols.ts), each one symbol standing for several token types.

@preprocessor typescript
@{%
import * as b from '../language/parse/build.js';
import * as symbols from '../language/parse/symbols.js';
// Bound here, not imported by name: nearley declares each `%name` it uses (`declare var
// word: any`), and tsc would then drop a named import as unused.
const grammarLexer = symbols.grammarLexer;
const word = symbols.word;
const wordOrString = symbols.wordOrString;
const literal = symbols.literal;
const prefix = symbols.prefix;
%}
@lexer grammarLexer

# policy ::= annotation* effect target? condition* reason? ";"
# (Repetitions as linked lists: nearley's `:*` copies the list at every item, so 10,000
# annotations took seconds.)
policy -> annotations:? effect target:? conditions:? reason:? ";"   {% b.policy %}
annotations -> annotation                                      {% b.one %}
             | annotations annotation                          {% b.next %}
conditions -> condition                                        {% b.one %}
            | conditions condition                             {% b.next %}

# annotation ::= "@" word ( "(" ( STRING ( "," STRING )* ",":? )? ")" )?
annotation -> "@" %word                                        {% b.annotation %}
            | "@" %word "(" ")"                                {% b.annotation %}
            | "@" %word "(" strings ",":? ")"                   {% b.annotation %}
strings -> %string                                             {% b.one %}
         | strings "," %string                                 {% b.append %}

# effect ::= "permit" | "forbid"
effect -> "permit"                                             {% b.first %}
        | "forbid"                                             {% b.first %}

# target ::= "(" ( constraint ( "," constraint )* ",":? )? ")"
# A constraint is written as an expression; the builder accepts only the shapes an index
# can decide: ROOT, ROOT == value, ROOT in [values], ROOT.attr like "glob".
target -> "(" targetRest                                       {% b.target %}
targetRest -> ")"                                              {% b.noItems %}
            | exprs ")"                                        {% b.items %}
            | exprs "," ")"                                    {% b.items %}

# condition ::= ( "when" | "unless" ) "{" expr "}"
condition -> "when" "{" expr "}"                               {% b.condition %}
           | "unless" "{" expr "}"                             {% b.condition %}

# reason ::= "reason" STRING
reason -> "reason" %string                                     {% b.reason %}

# expr ::= expr "||" and | and
expr -> expr "||" and                                          {% b.logical %}
      | and                                                    {% b.first %}

# and ::= and "&&" relation | relation
and -> and "&&" relation                                       {% b.logical %}
     | relation                                                {% b.first %}

# relation ::= unary ( relop unary | "like" STRING | "has" ( word | STRING ) )?
# Relations do not chain: `a == b == c` is a syntax error.
relation -> unary %relop unary                                 {% b.binary %}
          | unary "like" %string                               {% b.like %}
          | unary "has" %wordOrString                          {% b.has %}
          | unary                                              {% b.first %}
# relop ::= "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "contains" | "contains_any" | "contains_all"
# (the lexer gives these one token type, so the parser tests one symbol instead of ten)

# unary ::= "!" unary | "-" unary | member
unary -> %prefix unary                                         {% b.unary %}
       | member                                                {% b.first %}

# member ::= member "." word | member "[" STRING "]" | primary
# primary ::= literal | list | IDENT "::" STRING | IDENT "(" exprs? ")" | IDENT | "(" expr ")"
# The primary alternatives are alternatives of `member` here: one level less to go
# through for every operand.
member -> member "." %word                                     {% b.attr %}
        | member "[" %string "]"                               {% b.index %}
        | %literal                                             {% b.literal %}
        | "[" listRest                                         {% b.list %}
        | %ident "::" %string                                  {% b.entity %}
        | %ident "(" callRest                                  {% b.call %}
        | %ident                                               {% b.variable %}
        | "(" expr ")"                                         {% b.paren %}

# What follows `[` in a list and `(` in a call or target: items, an optional trailing comma, the bracket.
listRest -> "]"                                                {% b.noItems %}
          | exprs "]"                                          {% b.items %}
          | exprs "," "]"                                      {% b.items %}
callRest -> ")"                                                {% b.noItems %}
          | exprs ")"                                          {% b.items %}
          | exprs "," ")"                                      {% b.items %}

exprs -> expr                                                  {% b.one %}
       | exprs "," expr                                        {% b.append %}

# word ::= IDENT | keyword   (attribute and annotation names may be keywords: `resource.in`)
# (`%word`, a token class: src/language/parse/symbols.ts)
