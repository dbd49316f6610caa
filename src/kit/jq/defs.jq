# jq's builtins that jaq lacks or defines differently, as jq defines them
# (jq 1.7/1.8 semantics and messages). Loaded after jaq's own definitions,
# so these win; names starting with `_` are sluice's helpers.

# error(null) backtracks, as in jq 1.6 and the jq test suite.
def error: if . == null then empty else error_empty as $x | . end;
def error(msg): msg as $m | if $m == null then empty else ($m | error_empty) as $x | . end;

# jq's path semantics (paths.rs): create what is missing, delete at once.
def setpath($p; $x): _setpath($p; $x);
def delpaths($ps): _delpaths($ps);

# Assignment, as jq 1.7 defines it (see rewrite.rs): updates create what
# is missing, deletions of `|= empty` happen once all paths are done.
def _jq_assign(paths; $v): reduce path(paths) as $p (.; setpath($p; $v));
def _jq_modify(paths; update):
  reduce path(paths) as $p ([., []];
    . as [$x, $del]
    | [first($x | getpath($p) | update)] as $y
    | if $y == [] then [$x, $del + [$p]] else [$x | setpath($p; $y[0]), $del] end)
  | . as [$x, $del]
  | if $del == [] then $x else $x | delpaths($del) end;
def _jq_div(a; b): b as $y | a as $x | $x | _div($y);
def del(f): delpaths([path(f)]);
def to_entries: [keys_unsorted[] as $k | {key: $k, value: .[$k]}];
def from_entries: reduce .[] as $x ({};
  . + { ($x | if type == "object" then
              (if .key == null then .k // .name // .Name // .K // .Key else .key end)
            else . end
          | if type == "string" then . elif type == "null" then "null" else tojson end):
        ($x | if type != "object" then null
              elif has("value") then .value elif has("v") then .v else .Value end) });
def with_entries(f): to_entries | map(f) | from_entries;
def pick(pathexps): . as $top
  | reduce path(pathexps) as $p (null; setpath($top | _resolve_path($p); $top | getpath($p)));
def leaf_paths: paths(scalars);
def walk(f): def w: if type == "object" then map_values(w) elif type == "array" then map(w) else . end | f; w;

# Generators
def limit($n; f): if $n > 0 then _limit($n; f) elif $n == 0 then empty
  else error("limit doesn't support negative count") end;
def skip($n; f): if $n >= 0 then _skip($n; f)
  else error("skip doesn't support negative count") end;
def nth($n): .[$n];
def nth($n; f): if $n < 0 then error("nth doesn't support negative indices")
  else first(_skip($n; f)) end;
def isvalid(f): try (f | true) catch false;
def toarray: if type == "array" then . else [.] end;

# SQL-style
def INDEX(stream; idx_expr): reduce stream as $row ({}; .[$row | idx_expr | tostring] = $row);
def INDEX(idx_expr): INDEX(.[]; idx_expr);
def IN(s): any(s == .; .);
def IN(src; s): any(src == s; .);
def JOIN($idx; idx_expr): [.[] | [., $idx[idx_expr]]];
def JOIN($idx; stream; idx_expr): stream | [., $idx[idx_expr]];
def JOIN($idx; stream; idx_expr; join_expr): stream | [., $idx[idx_expr]] | join_expr;

# Streaming
def tostream: path(def r: (.[]? | r), .; r) as $p | getpath($p)
  | reduce path(.[]?) as $q ([$p, .]; [$p + $q]);
def fromstream(f): { x: null, e: false } as $init
  | foreach f as $i ($init;
      if .e then $init else . end
      | if $i | length == 2
        then setpath(["e"]; $i[0] | length == 0) | setpath(["x"] + $i[0]; $i[1])
        else setpath(["e"]; $i[0] | length == 1) end;
      if .e then .x else empty end);
def truncate_stream(stream): . as $n | null | stream | . as $input
  | if (.[0] | length) > $n then setpath([0]; .[0][$n:]) else empty end;

# Strings
def tostring: if type == "string" then . else tojson end;
def @text: tostring;
def @base32: _base32;
def @base32d: _base32d;
def recurse_down: recurse;
def @csv: _csv;
def @tsv: _tsv;
def @sh: def one: if type == "string" then "'\(escape_sh)'"
    elif type == "object" or type == "array" then error("\(_jq_desc) can not be escaped for shell")
    else tojson end;
  if type == "array" then map(one) | join(" ") else one end;
def format($f):
  if $f == "text" then @text elif $f == "json" then @json elif $f == "csv" then @csv
  elif $f == "tsv" then @tsv elif $f == "html" then @html elif $f == "uri" then @uri
  elif $f == "sh" then @sh elif $f == "base64" then @base64 elif $f == "base64d" then @base64d
  elif $f == "base32" then @base32 elif $f == "base32d" then @base32d
  else error("\($f) is not a valid format") end;
def join($x): reduce .[] as $i (null;
    (if . == null then "" else . + $x end)
    + ($i | if . == null then "" elif type == "boolean" or type == "number" then tojson else . end)
  ) // "";
def ltrimstr($x): if type == "string" and ($x | type) == "string" then _ltrimstr($x) else . end;
def rtrimstr($x): if type == "string" and ($x | type) == "string" then _rtrimstr($x) else . end;
def trim: if type == "string" then _trim else error("trim input must be a string") end;
def ltrim: if type == "string" then _ltrim else error("trim input must be a string") end;
def rtrim: if type == "string" then _rtrim else error("trim input must be a string") end;
def utf8bytelength: if type == "string" then _utf8bytelength
  else error("\(_jq_desc) only strings have UTF-8 byte length") end;
def implode: if type != "array" then error("implode input must be an array")
  else map(if type != "number" then error("\(_jq_desc) can't be imploded, unicode codepoint needs to be numeric")
           else floor | if . < 0 or . > 1114111 or (. >= 55296 and . <= 57343) then 65533 else . end end)
  | _implode end;
def ascii: if type == "number" and . >= 0 and . <= 127 then [.] | _implode
  else error("ascii only takes numbers between 0 and 127") end;
def splits($re): splits($re; null);
def splits($re; flags): split($re; flags) | .[];
def flatten($d): if $d < 0 then error("flatten depth must not be negative")
  elif $d == 0 then .
  else reduce .[] as $x ([]; if ($x | type) == "array" then . + ($x | flatten($d - 1)) else . + [$x] end) end;
def flatten: flatten(1e9);

# Numbers are kept as they were read, as jq's literal and decimal support does.
def have_literal_numbers: true;
def have_decnum: true;

# Dates: jq's message for what is not a broken-down time.
def _is_tm: type == "array" and length >= 6 and (.[0:6] | all(type == "number"));
def mktime: if _is_tm then _mktime else error("mktime requires parsed datetime inputs") end;
def strftime($f): if type == "number" or _is_tm then _strftime($f)
  else error("strftime/1 requires parsed datetime inputs") end;
def strflocaltime($f): if type == "number" or _is_tm then _strflocaltime($f)
  else error("strflocaltime/1 requires parsed datetime inputs") end;
