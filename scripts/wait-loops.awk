# Lint (tests/qemu/matrix.sh): wait loops without pause (issue 8, hole 14). Heuristic: a while loop
# whose body is empty, unless its condition calls a *_step function (which does the work, e.g.
# mdb_revoke_step), and a while loop, or a for loop whose condition also tests
# something else than its count (&&, ||), whose body only calls sys_yield (use cpu_pause /
# sys_yield_pause). Prints <file>:<line>: <loop header> for each; usage:
#   awk -f scripts/wait-loops.awk <C files>
function header_rest(s,    i, c, d) {     # text after the header's closing parenthesis, or "\n"
    i = index(s, "(")
    for (d = 0; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "(") d++
        else if (c == ")" && --d == 0) return substr(s, i + 1)
    }
    return "\n"
}
function only_reads(s,    t) {     # a condition that calls no *_step function (those do the work)
    t = s
    sub(/^[ \t]*while/, "", t)
    return t !~ /_step[ \t]*\(/
}
FNR == 1 { kind = "" }
{
    line = $0
    sub(/\/\*.*\*\//, "", line); sub(/\/\/.*/, "", line)
    if (kind != "") {
        if ((kind == "while" && line ~ /^[ \t]*;[ \t]*$/ && only_reads(cond)) ||
            line ~ /^[ \t]*([a-z_]+ = )?(\(void\))?sys_yield\(\);[ \t]*$/)
            print FILENAME ":" hline ": " cond
    }
    kind = ""
    if (match(line, /^[ \t]*(while|for)[ \t]*\(/)) {
        rest = header_rest(line)
        cond = line; hline = FNR
        k = line; sub(/^[ \t]*/, "", k); k = substr(k, 1, index(k, "(") - 1); sub(/[ \t]*$/, "", k)
        if (rest ~ /^[ \t]*$/ && (k == "while" || line ~ /&&|\|\|/))
            kind = k
        else if (k == "while" && rest ~ /^[ \t]*;[ \t]*$/ && only_reads(line))
            print FILENAME ":" FNR ": " line
    }
}
