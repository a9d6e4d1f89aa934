# The Gavel policy language.
#
# This file is the reference grammar: docs/language.md quotes its EBNF comments. The
# parser is fed one policy at a time (the text up to and including its `;`), already
# lexed by src/language/parse/lexer.ts, so every action here is a one-line call into the
# typed builder in src/language/parse/build.ts.

@preprocessor typescript
@{%
import { lexer } from '../language/parse/lexer.js';
import * as b from '../language/parse/build.js';
%}
@lexer lexer

# policy ::= annotation* effect target? condition* reason? ";"
policy -> annotation:* effect target:? condition:* reason:? ";"   {% b.policy %}

# annotation ::= "@" word ( "(" ( STRING ( "," STRING )* ",":? )? ")" )?
annotation -> "@" word                                         {% b.annotation %}
            | "@" word "(" ")"                                 {% b.annotation %}
            | "@" word "(" strings ",":? ")"                    {% b.annotation %}
strings -> %string                                             {% b.one %}
         | strings "," %string                                 {% b.append %}

# effect ::= "permit" | "forbid"
effect -> "permit"                                             {% b.first %}
        | "forbid"                                             {% b.first %}

# target ::= "(" ( constraint ( "," constraint )* ",":? )? ")"
# A constraint is written as an expression; the builder accepts only the shapes an index
# can decide: ROOT, ROOT == value, ROOT in [values], ROOT.attr like "glob".
target -> "(" ")"                                              {% b.emptyTarget %}
        | "(" exprs ",":? ")"                                   {% b.target %}

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
          | unary "has" word                                   {% b.has %}
          | unary "has" %string                                {% b.has %}
          | unary                                              {% b.first %}
# relop ::= "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "contains" | "contains_any" | "contains_all"
# (the lexer gives these one token type, so the parser tests one symbol instead of ten)
relop -> %relop                                                {% b.first %}

# unary ::= "!" unary | "-" unary | member
unary -> "!" unary                                             {% b.unary %}
       | "-" unary                                             {% b.unary %}
       | member                                                {% b.first %}

# member ::= member "." word | member "[" STRING "]" | primary
member -> member "." word                                      {% b.attr %}
        | member "[" %string "]"                               {% b.index %}
        | primary                                              {% b.first %}

# primary ::= literal | list | IDENT "::" STRING | IDENT "(" exprs? ")" | IDENT | "(" expr ")"
primary -> %string                                             {% b.stringLiteral %}
         | %number                                             {% b.numberLiteral %}
         | %constant                                           {% b.keywordLiteral %}
         | "[" "]"                                             {% b.list %}
         | "[" exprs ",":? "]"                                  {% b.list %}
         | %ident "::" %string                                 {% b.entity %}
         | %ident "(" ")"                                      {% b.call %}
         | %ident "(" exprs ",":? ")"                           {% b.call %}
         | %ident                                              {% b.variable %}
         | "(" expr ")"                                        {% b.paren %}

exprs -> expr                                                  {% b.one %}
       | exprs "," expr                                        {% b.append %}

# word ::= IDENT | keyword   (attribute and annotation names may be keywords: `resource.in`)
word -> %ident                                                 {% b.first %}
      | %kw                                                    {% b.first %}
      | %relop                                                 {% b.first %}
      | %constant                                              {% b.first %}
